"""Sampling parameters and one sampling step (logits → token id), all on the client."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0  # nucleus: keep the smallest set of tokens with this much probability
    top_k: int = 0  # keep the k most likely tokens; 0 = all
    repetition_penalty: float = 1.0  # > 1 discourages tokens already in the text (CTRL paper)
    stop: tuple[str, ...] = ()  # generation ends before the first of these strings
    seed: int | None = None  # same seed, same route → same text

    def __post_init__(self) -> None:
        if not all(
            math.isfinite(v) for v in (self.temperature, self.top_p, self.repetition_penalty)
        ):
            raise ValueError("temperature, top_p and repetition_penalty must be finite numbers")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be ≥ 0 and top_p in (0, 1]")
        if self.top_k < 0 or self.repetition_penalty <= 0:
            raise ValueError("top_k must be ≥ 0 and repetition_penalty > 0")
        if isinstance(self.stop, str) or any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError("stop must be a tuple of non-empty strings")


# Below this, sampling is greedy for any real logit gap (> 1e-4 nats × 1e6 = 100 nats),
# and a smaller divisor would overflow float32 logits into inf - inf = NaN.
GREEDY_BELOW_TEMPERATURE = 1e-6
FLOAT_MAX = torch.finfo(torch.float32).max


def sample(
    logits: torch.Tensor,
    params: SamplingParams,
    generator: torch.Generator | None = None,
    previous: Sequence[int] = (),
) -> int:
    """logits (V,) → one token id. ``previous``: token ids the repetition penalty sees."""
    logits = logits.float()
    if params.repetition_penalty != 1.0 and previous:
        seen = torch.tensor(sorted(set(previous)), dtype=torch.long)
        scores = logits[seen]
        penalized = torch.where(
            scores > 0, scores / params.repetition_penalty, scores * params.repetition_penalty
        )
        logits = logits.clone()
        logits[seen] = penalized
    # extreme penalties (1e-300) or odd logits must not turn scores into inf/NaN
    logits = torch.nan_to_num(logits, nan=float("-inf"), posinf=FLOAT_MAX)
    greedy = int(torch.argmax(logits))
    if params.temperature < GREEDY_BELOW_TEMPERATURE:
        return greedy
    logits = torch.nan_to_num(logits / params.temperature, nan=float("-inf"), posinf=FLOAT_MAX)
    if 0 < params.top_k < logits.numel():
        kth = torch.topk(logits, params.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    if not bool(torch.isfinite(probs).all()) or float(probs.sum()) <= 0:
        return greedy
    return int(torch.multinomial(probs, 1, generator=generator))
