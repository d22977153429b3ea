"""Weight quantization of a span's linear layers: the int4 kernel computes what its
4-bit weights say; int8 and int4 spans run through the normal host. Agreement with
fp32 is reported (helio bench engine), not asserted equal."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from node.core.errors import ConfigError
from node.engine import Span, SpanHost
from node.engine.quant import (
    INT4_GROUP,
    Int4Linear,
    dequantize_int4,
    quantize_int4,
    quantize_linears,
)


@torch.no_grad()
def test_int4_linear_matches_its_dequantized_weights() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(128, 96, bias=True)
    q4 = Int4Linear.from_linear(linear)
    x = torch.randn(5, 3, 128)
    q, scale, low = quantize_int4(linear.weight.detach(), INT4_GROUP)
    expected = x @ dequantize_int4(q, scale, low, INT4_GROUP).T + linear.bias
    assert torch.allclose(q4(x), expected, atol=1e-4)
    assert (
        q4.packed.numel() * q4.packed.element_size() * 8 <= 128 * 96 * 4 * 1.05
    )  # ≈ 4 bits a weight
    step = float((scale).max())
    assert (
        float((linear(x) - q4(x)).abs().max()) < step * 128
    )  # never worse than one step per input


@pytest.mark.parametrize("mode", ["int8", "int8-dynamic", "int4"])
def test_quantized_span_runs_and_stays_close(mode: str, tiny_dirs: dict[str, Path]) -> None:
    model_dir = tiny_dirs["llama"]
    exact, quant = SpanHost(Span(model_dir, 0, 4)), SpanHost(Span(model_dir, 0, 4, quant=mode))
    kinds = {type(m).__name__ for m in quant.span.body.modules()}
    expected = {"int8": "Int8Linear", "int4": "Int4Linear", "int8-dynamic": "Linear"}[mode]
    assert expected in kinds
    still_float = {name.rsplit(".", 1)[-1] for name, m in quant.span.body.named_modules()
                   if type(m) is nn.Linear}
    # int8-dynamic keeps the MLP's down projection float (its inputs carry outlier channels)
    assert still_float == ({"down_proj"} if mode == "int8-dynamic" else set())
    hidden = torch.randn(1, 6, 64, generator=torch.Generator().manual_seed(1))
    for host in (exact, quant):
        host.open("s", 16)
    a, b = exact.step("s", hidden, 0), quant.step("s", hidden, 0)
    assert not torch.equal(a, b)
    assert float((a - b).norm() / a.norm()) < 0.1


def test_quantization_refuses_unknown_modes_and_non_fp32_weights() -> None:
    with pytest.raises(ConfigError, match="unknown quantization"):
        quantize_linears(nn.Sequential(nn.Linear(32, 32)), "int3")
    with pytest.raises(ConfigError, match="float32"):
        quantize_linears(nn.Sequential(nn.Linear(32, 32).to(torch.bfloat16)), "int8")
