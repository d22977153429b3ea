"""Inference sessions: one KV cache per (session, span), an explicit max length."""

from __future__ import annotations

import torch

from node.core.errors import HeliomeshError
from node.engine.span import Span


class SessionLengthError(HeliomeshError):
    """A step would take the session past the max length it was opened with."""


class SpanSession:
    """Runs prefill and decode steps of one generation through one span."""

    def __init__(self, span: Span, max_length: int) -> None:
        if max_length <= 0:
            raise ValueError("max_length must be positive")
        self.span = span
        self.max_length = max_length
        self.cache = span.new_cache()
        self.position = 0  # tokens already in the cache

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (1, T, H) for the next T tokens → hidden (1, T, H) after the span."""
        if hidden.dim() != 3 or hidden.shape[0] != 1:
            raise ValueError(f"expected hidden states of shape (1, T, H), got {tuple(hidden.shape)}")
        length = hidden.shape[1]
        if self.position + length > self.max_length:
            raise SessionLengthError(
                f"session would reach {self.position + length} tokens, over its max length "
                f"{self.max_length}; open it with a larger max_length"
            )
        # Positions are passed explicitly: later spans cannot infer them from token ids.
        positions = torch.arange(self.position, self.position + length).unsqueeze(0)
        out = self.span(hidden.to(self.span.body.dtype), positions, self.cache)
        self.position += length
        return out
