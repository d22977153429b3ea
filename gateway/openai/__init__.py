"""The OpenAI-compatible API: one package per endpoint, each split like vLLM's
``entrypoints/openai`` into ``router`` (thin FastAPI route), ``protocol`` (pydantic
bodies) and ``serving`` (the logic).

- ``chat/``         ``POST /v1/chat/completions``
- ``completions/``  ``POST /v1/completions``
- ``models/``       ``GET /v1/models``, ``GET /v1/models/{model}``
- ``common``        fields both generation endpoints share (``SamplingRequest``, ``Usage``)
- ``generation``    shared serving steps: resolve, admit, run to the end or stream SSE
- ``errors_doc``    the error responses documented in the OpenAPI spec
"""
