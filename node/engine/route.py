"""A route: the chain of spans one generation goes through, covering blocks ``[0, n)``.

The client drives any ``Route``; the in-process one is the first; the swarm's network
route (hidden states pushed server to server) implements the same protocol later.
"""

from __future__ import annotations

from typing import Protocol

import torch

from node.engine.session import SpanSession
from node.engine.span import Span


class Route(Protocol):
    def open(self, max_length: int) -> None: ...
    def step(self, hidden: torch.Tensor) -> torch.Tensor: ...
    def close(self) -> None: ...


class InProcessRoute:
    """Spans loaded in this process, chained in order."""

    def __init__(self, spans: list[Span]) -> None:
        for before, after in zip(spans, spans[1:], strict=False):
            if before.end != after.start:
                raise ValueError(f"spans are not contiguous: {before.end} != {after.start}")
        if not spans or spans[0].start != 0 or spans[-1].end != spans[0].manifest.num_blocks:
            raise ValueError("the spans must cover every block of the model")
        self.spans = spans
        self.sessions: list[SpanSession] = []

    def open(self, max_length: int) -> None:
        self.sessions = [SpanSession(span, max_length) for span in self.spans]

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        if not self.sessions:
            raise RuntimeError("open() the route before stepping it")
        for session in self.sessions:
            hidden = session.step(hidden)
        return hidden

    def close(self) -> None:
        self.sessions = []
