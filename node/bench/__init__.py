"""Benchmarks (``helio bench <part> [--json]``): a product feature, since inferers run
them for model evaluation. One module per part; each exposes ``app``-free functions
that return a dict of numbers, and ``node/cli/bench.py`` turns them into commands.

- ``convert``  model conversion time and cache size per dtype (foundation)
- ``ipfs``     publish time, span fetch MB/s over loopback, cold start from a manifest CID
- ``chain``    gas per contract call on a fresh anvil with the whole contract suite
- ``engine``   spans vs. plain transformers, batching, int8/int4 weights, wire codecs
- ``scoring``  perplexity and top-1 agreement of a route on real English text
- ``evaluate`` a proposed model on this machine (``helio model evaluate``): tokens/s,
  next-token accuracy, mJ/token, posted to ModelRegistry

With ``--json`` a benchmark prints one JSON object as its last line of stdout; the
numbers, their machine and their baseline go into docs/benchmarks.md.
"""
