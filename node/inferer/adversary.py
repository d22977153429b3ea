"""TEST ONLY: a cheating inferer, for the integrity tests and ``helio bench verify``.

Set ``HELIO_TEST_ADVERSARY`` to one mode below and the inferer lies in that way while
signing its commitments as an honest one would (a liar signs what it sends). No CLI flag
and no config field reaches this: the variable is read here, once per span load, and
nowhere else. Unset (always, outside tests) it changes nothing.

Modes (issue #13's adversaries):
- ``garbage``   random hidden states of the output's scale
- ``noise``     the right output × (1 + 1e-2 · N(0, 1)) elementwise
- ``int4``      serves int4 weights while its record declares its configured quantization
- ``weights``   another model's weights: every parameter perturbed by 5 % of its std
- ``skip``      skips the span's last block (its attention and MLP write nothing)
- ``identity``  returns its input unchanged
- ``replay``    returns another session's earlier output of the same shape
- ``forge``     sends the right output but commits to another one's fingerprint (the
                client's own check catches it: a peer failure, not a spot-check)
"""

from __future__ import annotations

import os
from typing import Any

import torch

from node.engine.span import Span

ENV = "HELIO_TEST_ADVERSARY"
MODES = ("garbage", "noise", "int4", "weights", "skip", "identity", "replay")
TEST_MODES = (*MODES, "forge")  # forge is no spot-check adversary: the client sees it
NOISE = 1e-2


class Adversary:
    """One cheating mode; ``None`` mode is the honest pass-through."""

    def __init__(self, mode: str | None) -> None:
        if mode is not None and mode not in TEST_MODES:
            raise ValueError(f"{ENV}={mode!r}: use one of {', '.join(TEST_MODES)}")
        self.mode = mode
        self._generator = torch.Generator().manual_seed(1234)
        self._seen: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}  # shape -> session -> output

    @classmethod
    def from_env(cls) -> Adversary:
        return cls(os.environ.get(ENV) or None)

    def corrupt_span(self, span: Span) -> Span:
        """Weight-level lies, applied once to the span a service loads (its sub-spans,
        loaded later from the files, stay honest)."""
        with torch.no_grad():
            if self.mode == "int4" and span.quant is None:
                from node.engine.quant import quantize_linears

                quantize_linears(span.body, "int4")  # the record still says "none"
            elif self.mode == "weights":
                for param in span.body.parameters():
                    if param.dtype.is_floating_point and param.numel() > 1:
                        param.add_(torch.randn(param.shape, generator=self._generator)
                                   * 0.05 * float(param.std()))
            elif self.mode == "skip":
                body: Any = span.body
                last = body.layers[-1]
                for name, param in last.named_parameters():
                    if name.endswith(("o_proj.weight", "down_proj.weight")):
                        param.zero_()  # the residual passes through unchanged
        return span

    def output(self, session_id: str, hidden_in: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Output-level lies, per step."""
        if self.mode == "garbage":
            scale = float(output.float().std()) or 1.0
            return (torch.randn(output.shape, generator=self._generator) * scale).to(output.dtype)
        if self.mode == "noise":
            noise = torch.randn(output.shape, generator=self._generator) * NOISE
            return (output.float() * (1 + noise)).to(output.dtype)
        if self.mode == "identity":
            return hidden_in.to(output.dtype)
        if self.mode == "replay":  # another session's output of this shape, if any
            seen = self._seen.setdefault(tuple(output.shape), {})
            other = next((out for sid, out in seen.items() if sid != session_id), None)
            seen[session_id] = output
            if len(seen) > 8:
                seen.pop(next(iter(seen)))
            if other is not None:
                return other
        return output

    def committed(self, output: torch.Tensor) -> torch.Tensor:
        """The output whose fingerprint gets signed (``forge``: not the one sent)."""
        return output * 1.5 if self.mode == "forge" else output
