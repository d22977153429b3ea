"""Exactness on tiny seeded random models of every family: the full model vs the same
model split into 1, 2, 3 and uneven spans gives ``torch.equal`` logits over a prefill
and 8 decode steps, unbatched and as a padded batch of sessions of different lengths.
The prompts pass the sliding windows (8 tokens) of mistral, qwen2 and gemma3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from node.client import ClientModel
from node.engine import Span, SpanHost
from node.models.reference import greedy_reference, load_full_model
from node.models.tiny import TINY_CONFIGS

FAMILIES = list(TINY_CONFIGS)
STEPS = 8
RunSpans = Callable[..., list[torch.Tensor]]


def cuts_for(num_blocks: int) -> list[list[int]]:
    """One span, two, three, and an uneven split."""
    half, third = num_blocks // 2, max(num_blocks // 3, 1)
    return [
        [0, num_blocks],
        [0, half, num_blocks],
        [0, third, 2 * third, num_blocks],
        [0, 1, num_blocks],
    ]


def prompt(length: int, seed: int) -> list[int]:
    return torch.randint(5, 128, (length,), generator=torch.Generator().manual_seed(seed)).tolist()


def hosts_for(model_dir: Path, cuts: list[int]) -> list[SpanHost]:
    return [SpanHost(Span(model_dir, a, b)) for a, b in zip(cuts, cuts[1:], strict=False)]


@pytest.mark.parametrize("family", FAMILIES)
def test_spans_equal_full_model_unbatched(
    family: str, tiny_dirs: dict[str, Path], run_spans: RunSpans
) -> None:
    model_dir = tiny_dirs[family]
    full, client = load_full_model(model_dir), ClientModel(model_dir)
    prompts = [prompt(13, seed=1)]
    expected, tokens = greedy_reference(full, prompts, STEPS)
    for cuts in cuts_for(full.config.num_hidden_layers):
        got = run_spans(client, hosts_for(model_dir, cuts), prompts, tokens)
        assert len(got) == STEPS + 1
        for step, (a, b) in enumerate(zip(expected, got, strict=True)):
            assert torch.equal(a, b), f"{family} spans {cuts}: logits differ at step {step}"


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_sessions_equal_full_model_on_the_same_batch(
    family: str, tiny_dirs: dict[str, Path], run_spans: RunSpans
) -> None:
    model_dir = tiny_dirs[family]
    full, client = load_full_model(model_dir), ClientModel(model_dir)
    prompts = [prompt(5, seed=2), prompt(14, seed=3), prompt(9, seed=4)]
    expected, tokens = greedy_reference(full, prompts, STEPS)
    num_blocks = full.config.num_hidden_layers
    for cuts in ([0, num_blocks], [0, 1, num_blocks // 2 + 1, num_blocks]):
        got = run_spans(client, hosts_for(model_dir, cuts), prompts, tokens)
        for step, (a, b) in enumerate(zip(expected, got, strict=True)):
            real = a if step else a[:, -5:]  # the prefill: compare where every row is real
            mine = b if step else b[:, -5:]
            assert torch.equal(real, mine), (
                f"{family} batched spans {cuts}: logits differ at step {step}"
            )
        # and the padded prefill positions of the longest row too
        assert torch.equal(expected[0][1], got[0][1])
