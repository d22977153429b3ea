"""Run the steps of several sessions as one forward pass.

Sessions of different lengths are left-padded: cached tokens right-aligned in a batch
cache (``kvcache.stack_caches``), new tokens right-aligned in the batch input, a 2D
attention mask with 0 on every padded slot, and each session's own absolute position
ids. Rows may differ in new tokens only when every session is fresh (a batched
prefill): a gap between a session's cache and its new tokens would shift its
sliding window.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from node.engine.kvcache import split_cache, stack_caches
from node.engine.session import SpanSession
from node.engine.span import Span


def compatible(lengths: Sequence[int], steps: Sequence[int]) -> bool:
    """Can these (cached length, new tokens) rows share one padded forward?"""
    return len(set(steps)) == 1 or all(length == 0 for length in lengths)


def run_group(
    span: Span, sessions: Sequence[SpanSession], hiddens: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """Step every session (distinct sessions; ``hiddens[i]`` is (1, T_i, H) in the span's
    dtype). Updates the sessions' caches and lengths; returns (1, T_i, H) each."""
    if len(sessions) == 1:  # the unpadded path: exactly the full model's computation
        session, hidden = sessions[0], hiddens[0]
        count = hidden.shape[1]
        positions = torch.arange(session.length, session.length + count).unsqueeze(0)
        out = span(hidden, positions, session.cache, max_length=session.max_length)
        session.length += count
        return [out]

    lengths = [s.length for s in sessions]
    steps = [h.shape[1] for h in hiddens]
    assert compatible(lengths, steps), "group sessions with batching.compatible first"
    width, cached = max(steps), max(lengths)
    batch = len(sessions)
    hidden = torch.zeros(batch, width, span.hidden_size, dtype=span.dtype)
    positions = torch.zeros(batch, width, dtype=torch.long)
    mask = torch.zeros(batch, cached + width, dtype=torch.long)
    for row, (h, length, step) in enumerate(zip(hiddens, lengths, steps, strict=True)):
        hidden[row, width - step :] = h[0]
        positions[row, width - step :] = torch.arange(length, length + step)
        mask[row, cached - length : cached] = 1
        mask[row, cached + width - step :] = 1
    cache = stack_caches(
        span.config, span.kv_layers, [s.cache for s in sessions], lengths, span.dtype
    )
    out = span(hidden, positions, cache, mask)
    new_lengths = [length + step for length, step in zip(lengths, steps, strict=True)]
    caches = split_cache(span.config, span.kv_layers, cache, new_lengths)
    for session, new_cache, new_length in zip(sessions, caches, new_lengths, strict=True):
        session.cache, session.length = new_cache, new_length
    return [out[row : row + 1, width - step :] for row, step in enumerate(steps)]
