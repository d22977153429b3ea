"""Weight quantization of a span's linear layers, on the CPU paths torch ships.

- ``int8``: torch's dynamic quantization (fbgemm): int8 weights with a scale per
  output channel, activations quantized per step on the fly. Needs no calibration
  data (the activation scale is measured at run time). Fastest CPU path here.
- ``int4``: 4-bit weights in groups of 32 input values (asymmetric: a scale and a zero
  per group) through ``aten._weight_int4pack_mm_for_cpu``; activations stay float.
  Also calibration-free (min/max per group). It quarters weight memory but the CPU
  kernel is slower than fp32 matmul on small models: see docs/benchmarks.md.

Quality is measured, not assumed: ``node/client/evaluate.py`` reports perplexity on
real English text and top-1 agreement with fp32 (``helio bench engine``).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from node.core.errors import ConfigError

MODES = ("int8", "int4")
INT4_GROUP = 32


def quantize_linears(module: nn.Module, mode: str) -> nn.Module:
    """Replace ``module``'s ``nn.Linear`` layers in place; returns ``module``."""
    if mode not in MODES:
        raise ConfigError(f"unknown quantization {mode!r}; use one of {', '.join(MODES)}")
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if any(m.weight.dtype != torch.float32 for m in linears):
        raise ConfigError(
            f"{mode} quantization starts from float32 weights; convert the model with --dtype fp32"
        )
    if mode == "int8":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices
            torch.ao.quantization.quantize_dynamic(
                module, {nn.Linear}, dtype=torch.qint8, inplace=True
            )
        return module
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child.in_features % INT4_GROUP == 0:
                setattr(parent, name, Int4Linear.from_linear(child))
    return module


class Int4Linear(nn.Module):
    """y = x Wᵀ + b with W stored as 4-bit groups (w = q·scale + min per group)."""

    def __init__(self, packed: torch.Tensor, scales_zeros: torch.Tensor, in_features: int,
                 out_features: int, bias: torch.Tensor | None, group: int) -> None:  # fmt: skip
        super().__init__()
        self.in_features, self.out_features, self.group = in_features, out_features, group
        self.register_buffer("packed", packed)
        self.register_buffer("scales_zeros", scales_zeros)
        self.bias = nn.Parameter(bias, requires_grad=False) if bias is not None else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, group: int = INT4_GROUP) -> Int4Linear:
        q, scale, low = quantize_int4(linear.weight.detach(), group)
        # the kernel computes (q - 8) * scale + zero, so zero = low + 8 * scale
        scales_zeros = torch.stack([scale, low + 8 * scale], dim=-1).transpose(0, 1).contiguous()
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
        bias = linear.bias.detach().clone() if linear.bias is not None else None
        return cls(packed, scales_zeros, linear.in_features, linear.out_features, bias, group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(
            x.reshape(-1, self.in_features).float(), self.packed, self.group, self.scales_zeros
        )
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, group={self.group}"
        )


def quantize_int4(
    weight: torch.Tensor, group: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """weight (N, K) → q (N, K) int32 in [0, 15], scale and min (N, K/group) float32."""
    rows, cols = weight.shape
    grouped = weight.float().reshape(rows, cols // group, group)
    low = grouped.amin(dim=-1)
    scale = ((grouped.amax(dim=-1) - low) / 15).clamp_min(1e-8)
    q = torch.round((grouped - low[..., None]) / scale[..., None]).clamp(0, 15)
    return q.to(torch.int32).reshape(rows, cols), scale, low


def dequantize_int4(
    q: torch.Tensor, scale: torch.Tensor, low: torch.Tensor, group: int
) -> torch.Tensor:
    rows, cols = q.shape
    grouped = q.float().reshape(rows, cols // group, group)
    return (grouped * scale[..., None] + low[..., None]).reshape(rows, cols)
