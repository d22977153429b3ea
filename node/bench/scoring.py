"""Quality of a route on real English text: perplexity and top-1 agreement.

The text ships with CPython itself: ``pydoc_data.topics`` (the Python language
reference's topic pages, ≈ 465 KB of English prose), so the numbers are reproducible
on any machine without a download.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from node.client.local import ClientModel
from node.engine.route import Route

TEXT_SOURCE = "CPython pydoc_data.topics (Python reference documentation)"


def english_text(
    topics: tuple[str, ...] = ("assignment", "class", "for", "if", "try", "with"),
) -> str:
    from pydoc_data.topics import topics as pages

    return "\n\n".join(pages[name].strip() for name in topics)


@dataclass(frozen=True)
class Score:
    nll: float  # mean negative log-likelihood per predicted token (nats)
    tokens: int  # predicted tokens
    top1: torch.Tensor  # (tokens,) the most likely next token at each position

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll)


@torch.inference_mode()
def score(client: ClientModel, route: Route, ids: list[int], chunk: int = 256) -> Score:
    """Teacher-forced pass of ``ids`` through the route (in chunks, with the KV cache)."""
    if len(ids) < 2:
        raise ValueError("need at least two tokens to score")
    route.open(max_length=len(ids))
    total, top1 = 0.0, []
    try:
        for start in range(0, len(ids) - 1, chunk):
            window = ids[start : min(start + chunk, len(ids) - 1)]
            targets = torch.tensor(ids[start + 1 : start + 1 + len(window)])
            logits = client.logits(route.step(client.embed(torch.tensor([window]))))[0]
            total += float(torch.nn.functional.cross_entropy(logits, targets, reduction="sum"))
            top1.append(logits.argmax(dim=-1))
    finally:
        route.close()
    count = len(ids) - 1
    return Score(total / count, count, torch.cat(top1))


def top1_agreement(a: Score, b: Score) -> float:
    """Share of positions where both routes predict the same next token."""
    return float((a.top1 == b.top1).float().mean())
