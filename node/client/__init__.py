"""The client: tokenizes, embeds and samples locally; drives a route of spans.

- ``local``     ``ClientModel``: tokenizer (+ <bos> where the family needs it), embeddings, final norm, head
- ``sampling``  ``SamplingParams``, ``sample``: greedy, temperature, top-k, top-p, repetition penalty, seed
- ``generate``  ``generate_tokens`` / ``stream_text`` / ``complete`` / ``chat`` over any ``Route``
- ``detok``     ``Detokenizer``: token ids → text pieces with ``stop`` strings (incremental, UTF-8 safe)
- ``vouchers``  payment vouchers carried to a gateway (written with the gateway)
- ``swarm_client`` ``SwarmClient`` / ``swarm_client``: the connection to the swarm (peer, planner, bans, RTTs)
- ``swarm_config`` ``ClientConfig``: timeouts, chunking, wire dtype and codec, failover limits
- ``swarm_route``  ``SwarmRoute``: the network ``Route`` (push chain, commitment checks, failover)
- ``swarm_hops``   ``HopStream``: one inference stream to one server
- ``failover``     ``Bans`` (backoff) and ``replay`` (rebuild a replacement's KV cache)
- ``audit``        ``SwarmExecutor`` (a referee's re-execution), ``embed_referee`` (a client's referee)
- ``hop_records``  ``hop_records``: what a finished route hands its referee
"""

from node.client.generate import chat, complete, generate_tokens, stream_text
from node.client.local import ClientModel
from node.client.sampling import SamplingParams, sample

__all__ = [
    "ClientModel",
    "SamplingParams",
    "chat",
    "complete",
    "generate_tokens",
    "sample",
    "stream_text",
]
