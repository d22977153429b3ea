"""Sampling on the client: greedy, temperature, top-k, top-p, repetition penalty, seed,
and edge cases that need no model (schemathesis found the first one)."""

from __future__ import annotations

import pytest
import torch

from node.client import SamplingParams, sample

LOGITS = torch.tensor([2.0, 1.0, 0.5, 3.0, -1.0, 0.0])


def draws(params: SamplingParams, n: int = 400, previous: tuple[int, ...] = ()) -> set[int]:
    g = torch.Generator().manual_seed(0)
    return {sample(LOGITS, params, g, previous) for _ in range(n)}


def test_greedy_top_k_one_and_tiny_top_p_pick_the_argmax() -> None:
    assert sample(LOGITS, SamplingParams()) == 3
    assert draws(SamplingParams(temperature=1.0, top_k=1)) == {3}
    assert draws(SamplingParams(temperature=1.0, top_p=0.01)) == {3}


def test_top_k_and_top_p_bound_the_candidates() -> None:
    assert draws(SamplingParams(temperature=1.0, top_k=2)) == {0, 3}
    assert draws(SamplingParams(temperature=1.0, top_p=0.8)) <= {0, 1, 3}
    assert len(draws(SamplingParams(temperature=5.0))) == 6


def test_same_seed_same_draws() -> None:
    params = SamplingParams(temperature=1.0, seed=42)
    a = [sample(LOGITS, params, torch.Generator().manual_seed(7)) for _ in range(1)]
    b = [sample(LOGITS, params, torch.Generator().manual_seed(7)) for _ in range(1)]
    ga, gb = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert a == b
    assert [sample(LOGITS, params, ga) for _ in range(50)] == [
        sample(LOGITS, params, gb) for _ in range(50)
    ]


def test_repetition_penalty_moves_away_from_seen_tokens() -> None:
    assert sample(LOGITS, SamplingParams(repetition_penalty=2.0), previous=[3]) == 0  # 3 → 1.5 < 2
    assert sample(LOGITS, SamplingParams(repetition_penalty=1.0), previous=[3]) == 3
    negative = torch.tensor([-1.0, -1.2])
    assert (
        sample(negative, SamplingParams(repetition_penalty=1.5), previous=[0]) == 1
    )  # -1.5 < -1.2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_new_tokens": 0},
        {"temperature": -1},
        {"top_p": 0},
        {"top_p": 1.5},
        {"top_k": -1},
        {"repetition_penalty": 0},
        {"stop": "###"},
        {"temperature": float("nan")},
        {"repetition_penalty": float("inf")},
        {"stop": ("",)},
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SamplingParams(**kwargs)  # type: ignore[arg-type]


def test_extreme_values_still_give_a_token() -> None:
    g = torch.Generator().manual_seed(0)
    for params in (
        SamplingParams(temperature=1e-300),
        SamplingParams(temperature=1e-3, top_p=1e-300),
        SamplingParams(temperature=1e300, top_k=3),
        SamplingParams(temperature=1.0, repetition_penalty=1e-300),
        SamplingParams(temperature=1.0, repetition_penalty=1e300),
    ):
        assert 0 <= sample(LOGITS, params, g, previous=[0, 3]) < LOGITS.numel()
    assert (
        sample(torch.tensor([float("nan"), 1.0, float("inf")]), SamplingParams(temperature=1.0))
        == 2
    )


def test_sample_tiny_temperature_is_greedy_not_nan() -> None:
    logits = torch.tensor([1.0, 30.0, -5.0, 29.9])
    for temperature in (2.8e-164, 1e-40, 1e-7):
        params = SamplingParams(temperature=temperature, seed=0)
        assert sample(logits, params, torch.Generator().manual_seed(0)) == 1


def test_sample_normal_temperature_still_samples() -> None:
    logits = torch.zeros(4)
    generator = torch.Generator().manual_seed(0)
    picks = {sample(logits, SamplingParams(temperature=1.0), generator) for _ in range(64)}
    assert picks == {0, 1, 2, 3}
