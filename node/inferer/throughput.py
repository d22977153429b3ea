"""How fast this machine runs its span: decode tokens per second through the whole span,
measured on the loaded span itself (a short prefill, then single-token steps)."""

from __future__ import annotations

import time

import torch

from node.engine.host import SpanHost

PREFILL_TOKENS = 16
DECODE_STEPS = 8


def measure_throughput(host: SpanHost, steps: int = DECODE_STEPS) -> float:
    """Tokens/s of single-token decode steps through ``host``'s span (one session)."""
    session_id = "throughput-probe"
    hidden_size = host.span.hidden_size
    generator = torch.Generator().manual_seed(0)
    host.open(session_id, PREFILL_TOKENS + steps + 1)
    try:
        host.step(session_id, torch.randn(1, PREFILL_TOKENS, hidden_size, generator=generator), 0)
        host.step(session_id, torch.randn(1, 1, hidden_size, generator=generator), PREFILL_TOKENS)
        started = time.perf_counter()
        for i in range(steps):
            hidden = torch.randn(1, 1, hidden_size, generator=generator)
            host.step(session_id, hidden, PREFILL_TOKENS + 1 + i)
        return steps / (time.perf_counter() - started)
    finally:
        host.close(session_id)
