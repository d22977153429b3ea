"""``ClientConfig``: every setting of a swarm client and its routes (timeouts, chunking,
the wire encoding, bans and failover limits)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ClientConfig:
    open_timeout_s: float = 10.0  # a server must open a session within this
    step_timeout_s: float = 30.0  # a server must answer a step within this, else it failed
    step_timeout_per_token_s: float = 0.05  # … plus this per token of the step (long prefills)
    ban_s: float = 15.0  # first ban of a failed server; doubles per repeated failure
    max_ban_s: float = 300.0
    max_failovers: int = 8  # re-routes per step before giving up
    records_ttl_s: float = 1.0  # reuse a DHT lookup for this long
    rtt_ttl_s: float = 60.0  # re-measure a server's RTT after this long
    ping_timeout_s: float = 2.0
    chunk_tokens: int = 512  # longest step sent (prefills are cut into chunks)
    wire_dtype: str = "float32"  # hidden states on the wire: float32 (exact), bfloat16, float16
    # their encoding (node.engine.codecs): auto (the best every hop of the route offers:
    # the family's safe fp16/bf16 first), none (raw), fp16, bf16, int8-blockwise
    codec: str = "auto"
    verify: bool = True  # check every commitment signature and output hash
