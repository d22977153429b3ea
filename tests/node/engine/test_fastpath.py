"""The lean decode step (``node/engine/fastpath.py``): bit for bit the family's
transformers stack on every decode step, across the KV buffers' growth, forks and
rollbacks; it stands aside where it cannot be exact (sliding windows, Gemma-3); the
fused int8 calls equal the separate ones; the buffers never outgrow the session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from node.engine import Span, SpanHost
from node.engine.kvcache import MIN_CAPACITY
from node.models.tiny import TINY_CONFIGS

STEPS = MIN_CAPACITY + 10  # past the first buffer's capacity: one regrowth


def _hidden(tokens: int, seed: int, size: int = 64) -> torch.Tensor:
    return torch.randn(1, tokens, size, generator=torch.Generator().manual_seed(seed))


def _decode(span: Span, *, fast: bool, steps: int = STEPS, prompt: int = 5) -> list[torch.Tensor]:
    span.fast_decode = fast
    host = SpanHost(span)
    host.open("s", prompt + steps)
    outs = [host.step("s", _hidden(prompt, 0), 0)]
    outs += [host.step("s", _hidden(1, 1 + i), prompt + i) for i in range(steps)]
    host.close("s")
    return outs


@pytest.mark.parametrize(
    ("family", "end", "steps"),
    [("llama", 4, STEPS), ("qwen3", 4, 8), ("qwen2", 2, 8)],  # qwen2's layers 0-1: full, biased q/k/v
)
def test_fast_decode_equals_transformers_bit_for_bit(
    family: str, end: int, steps: int, tiny_dirs: dict[str, Path]
) -> None:
    span = Span(tiny_dirs[family], 0, end)
    assert span._fast_decode() is not None, f"{family} blocks should take the lean step"
    fast, slow = _decode(span, fast=True, steps=steps), _decode(span, fast=False, steps=steps)
    for step, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert torch.equal(a, b), f"{family}: step {step} differs"


@pytest.mark.parametrize("family", ["mistral", "qwen2", "gemma3_text"])
def test_fast_decode_stands_aside_where_it_cannot_be_exact(family: str, tiny_dirs: dict[str, Path]) -> None:
    span = Span(tiny_dirs[family], 0, TINY_CONFIGS[family]["num_hidden_layers"])
    assert span._fast_decode() is None  # sliding windows / Gemma's norms: transformers runs it


def test_forks_and_rollbacks_never_write_shared_kv(tiny_dirs: dict[str, Path]) -> None:
    """A fork shares its source's tensors and a rollback keeps a prefix of them: the
    buffers grown in place must never be written under another session's feet."""
    results = {}
    for fast in (True, False):
        span = Span(tiny_dirs["llama"], 0, 4)
        span.fast_decode = fast
        host = SpanHost(span)
        host.open("a", 40)
        host.step("a", _hidden(6, 0), 0)
        for i in range(3):
            host.step("a", _hidden(1, 10 + i), 6 + i)
        host.fork("a", "b")
        a = [host.step("a", _hidden(1, 20 + i), 9 + i) for i in range(4)]
        b = [host.step("b", _hidden(1, 30 + i), 9 + i) for i in range(4)]
        again = host.step("a", _hidden(1, 40), 10)  # roll "a" back to 10 tokens, a new token
        after = host.step("a", _hidden(1, 41), 11)
        results[fast] = [*a, *b, again, after]
    for step, (x, y) in enumerate(zip(results[True], results[False], strict=True)):
        assert torch.equal(x, y), f"output {step} differs"


def test_kv_buffers_stay_within_the_session_length(tiny_dirs: dict[str, Path]) -> None:
    span = Span(tiny_dirs["llama"], 0, 4)
    host = SpanHost(span)
    host.open("s", 12)
    host.step("s", _hidden(4, 0), 0)
    for i in range(8):
        host.step("s", _hidden(1, i + 1), 4 + i)
    layer = host.session("s").cache.layers[0]
    buffer = layer.__dict__["_helio_kv_buffer"]
    assert buffer[0].shape[2] <= 12 and layer.keys.shape[2] == 12


def test_fused_int8_calls_equal_the_separate_ones(tiny_dirs: dict[str, Path]) -> None:
    span = Span(tiny_dirs["llama"], 0, 4, quant="int8")
    fast, slow = _decode(span, fast=True, steps=6), _decode(span, fast=False, steps=6)
    for step, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert torch.equal(a, b), f"int8 step {step} differs"
