"""Sampling edge cases that need no model (schemathesis found the first one)."""

from __future__ import annotations

import torch

from node.client.sampling import SamplingParams, sample


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
