"""Weight quantization of a span's linear layers, on the CPU paths torch ships.

- ``int8``: weight-only int8, one scale per output channel (symmetric); activations stay
  float: y = (x · W_int8ᵀ) × scale. Keeps quality and a quarter of the weight memory.
  Steps of up to ``FAST_MAX_ROWS`` tokens (decode, small batches) run on our own AVX2 /
  AVX-512 kernel (``node/engine/kernels/``), which reads the 1-byte weights and widens
  them in registers: decode is memory-bound, so its GEMVs run ≈ 2.4× fp32's. torch's own
  ``_weight_int8pack_mm`` (and torchao's int8 weight-only path, which lowers to it on the
  CPU) was 10× slower than fp32 at batch 1 here (docs/engine.md). Longer steps
  (prefill) dequantize and use torch's GEMM, where compute, not memory, is the limit.
- ``int8-dynamic``: torch's dynamic quantization (fbgemm): int8 weights per channel and
  activations quantized per tensor on the fly. The fast one. A per-tensor activation
  scale cannot hold the outlier channels of the MLP's down projection inputs in
  Llama-style models, so ``down_proj`` layers stay float: on SmolLM2 quantizing them too
  gave top-1 agreement 0.59 and perplexity 34.8 (fp32: 16.0); keeping them float gives
  0.80 and 18.0 at 1.9× fp32 speed instead of 2.8× (docs/benchmarks.md). Still lossy:
  measure before serving it.
- ``int4``: 4-bit weights in groups of 32 (a scale and a minimum per group) through
  ``aten._weight_int4pack_mm_for_cpu``. Lossless on SmolLM2, whose GGUF source is Q4_1
  (the same grid: each group's min/max recovers it exactly), but the CPU kernel is
  several times slower than fp32 matmul on a model this small.

None needs calibration data: scales come from the weights (and, for int8-dynamic, from
each step's activations). Quality is measured, not assumed: ``helio bench engine``
reports perplexity on real English text and top-1 agreement with fp32
(``node/bench/scoring.py``); docs/benchmarks.md has the numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import cast

import torch
from torch import nn

from node.core.errors import ConfigError
from node.engine.kernels import int8_kernel

MODES = ("int8", "int8-dynamic", "int4")
INT4_GROUP = 32
FAST_MAX_ROWS = 16  # int8 steps with at most this many rows use the native kernel
DYNAMIC_SKIP = ("down_proj",)  # int8-dynamic leaves these float (outlier inputs, see above)


def quantize_linears(module: nn.Module, mode: str) -> nn.Module:
    """Replace ``module``'s ``nn.Linear`` layers in place; returns ``module``."""
    if mode not in MODES:
        raise ConfigError(f"unknown quantization {mode!r}; use one of {', '.join(MODES)}")
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if any(m.weight.dtype != torch.float32 for m in linears):
        raise ConfigError(
            f"{mode} quantization starts from float32 weights; convert the model with --dtype fp32"
        )
    if mode == "int8-dynamic":
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        spec = {name: qconfig for name, m in module.named_modules()
                if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] not in DYNAMIC_SKIP}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices
            torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                module, spec, dtype=torch.qint8, inplace=True
            )
        return module
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Linear):
                continue
            if mode == "int8":
                setattr(parent, name, Int8Linear.from_linear(child))
            elif child.in_features % INT4_GROUP == 0:
                setattr(parent, name, Int4Linear.from_linear(child))
    return module


class Int8Linear(nn.Module):
    """y = (x Wᵀ) × scale + b with W stored as int8, one scale per output channel."""

    weight_int8: torch.Tensor  # buffers (registered in __init__), declared for the type checker
    scale: torch.Tensor

    def __init__(
        self, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self.register_buffer("weight_int8", weight)
        self.register_buffer("scale", scale)
        self.bias = nn.Parameter(bias, requires_grad=False) if bias is not None else None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127
        q = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
        bias = linear.bias.detach().clone() if linear.bias is not None else None
        return cls(q, scale, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        kernel = int8_kernel() if rows <= FAST_MAX_ROWS else None
        if kernel is not None and x.dtype == torch.float32 and x.device.type == "cpu":
            flat = x.reshape(rows, self.in_features).contiguous()
            y = kernel.linear(flat, self.weight_int8, self.scale).reshape(*x.shape[:-1], self.out_features)
        else:
            y = nn.functional.linear(x, self.weight_int8.to(x.dtype)) * self.scale.to(x.dtype)
        return y if self.bias is None else y + self.bias

    def decode_linear(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """``forward`` for float32 CPU steps of ≤ ``FAST_MAX_ROWS`` rows with the kernel
        resolved once (the lean decode step calls it every token); ``forward`` itself
        where the kernel cannot run."""
        kernel = int8_kernel()
        if kernel is None or self.weight_int8.device.type != "cpu":
            return self.forward
        linear, bias = kernel.bind(self.weight_int8, self.scale), self.bias
        return linear if bias is None else lambda x: linear(x) + bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def fuse_int8(
    modules: Sequence[nn.Module],
) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]] | None:
    """One kernel call for several int8 linears of the same input (q/k/v, gate/up): their
    weights and scales are concatenated once and the modules keep views of them (no
    extra memory). The kernel computes every output row on its own, in the same order,
    so each output is bit for bit the separate call's. ``None`` where the kernel cannot
    run or the modules do not fit (float, bias, different inputs)."""
    kernel = int8_kernel()
    if kernel is None or not all(
        isinstance(m, Int8Linear) and m.bias is None and m.weight_int8.device.type == "cpu"
        for m in modules
    ):
        return None
    linears = [cast(Int8Linear, m) for m in modules]
    if len({m.in_features for m in linears}) != 1:
        return None
    weight = torch.cat([m.weight_int8 for m in linears])
    scale = torch.cat([m.scale for m in linears])
    sizes = [m.out_features for m in linears]
    start = 0
    for m, size in zip(linears, sizes, strict=True):  # the modules now read the fused copy
        m.weight_int8, m.scale = weight[start : start + size], scale[start : start + size]
        start += size
    linear = kernel.bind(weight, scale)
    return lambda x: torch.split(linear(x), sizes, dim=-1)


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
        y: torch.Tensor = torch.ops.aten._weight_int4pack_mm_for_cpu(
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
