"""The client: tokenizes, embeds and samples locally; drives a route of spans.

- ``local``     ``ClientModel``: tokenizer (+ <bos> where the family needs it), embeddings, final norm, head
- ``sampling``  ``SamplingParams``, ``sample``: greedy, temperature, top-k, top-p, repetition penalty, seed
- ``generate``  ``generate_tokens`` / ``stream_text`` / ``complete`` / ``chat`` over any ``Route``
- ``evaluate``  perplexity and top-1 agreement of a route on real English text
- ``vouchers``  payment vouchers carried to a gateway (written with the gateway)
- ``swarm_route`` ``SwarmClient`` / ``swarm_client`` and ``SwarmRoute``: the network route (push, failover)
- ``swarm_hops``  ``HopStream``: one inference stream to one server
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
