"""The bottom layer: names, settings, errors and file formats every other package shares.

- ``paths``     where the project, its build outputs and the cache live
- ``settings``  ``Settings``: one settings object per process (env ``HELIO_*``, ``.env``, TOML file)
- ``errors``    ``HeliomeshError`` and the domain errors that say what to do
- ``names``     model ids (``smollm2-135m-instruct``) and their validation
- ``cid``       IPFS CIDv0 of a file, computed exactly as Kubo's default ``ipfs add``
- ``manifest``  ``Manifest``: a converted model's files with sha256, size and CID
- ``files``     atomic writes and streaming hashes

Nothing in ``node.core`` imports anything above it (no torch, no web3).
"""
