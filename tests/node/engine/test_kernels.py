"""The native int8 kernel (node/engine/kernels/int8_linear.c) computes what its int8
weights say, at every row count it serves and on both instruction sets this CPU has;
``Int8Linear`` routes decode-sized steps through it and longer ones through torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from node.engine.kernels import int8_kernel
from node.engine.quant import FAST_MAX_ROWS, Int8Linear

kernel = int8_kernel()
pytestmark = pytest.mark.skipif(kernel is None, reason="no x86 CPU with AVX2, or no C compiler")


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 8, 16])
@pytest.mark.parametrize(("n", "k"), [(96, 576), (7, 40), (1, 16)])
def test_int8_kernel_matches_torch_on_dequantized_weights(level: int, rows: int, n: int, k: int) -> None:
    assert kernel is not None
    if level > kernel.level:
        pytest.skip("this CPU lacks AVX-512")
    generator = torch.Generator().manual_seed(rows * 1000 + n)
    x = torch.randn(rows, k, generator=generator)
    weight = torch.randint(-127, 128, (n, k), dtype=torch.int8, generator=generator)
    scale = torch.rand(n, generator=generator) / 100
    saved, kernel.level = kernel.level, level
    try:
        got = kernel.linear(x, weight, scale)
    finally:
        kernel.level = saved
    expected = nn.functional.linear(x.double(), weight.double()) * scale.double()
    assert torch.allclose(got.double(), expected, rtol=1e-5, atol=1e-4)


@torch.no_grad()
def test_int8_linear_uses_the_kernel_for_decode_and_torch_for_prefill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(64, 48, bias=True)
    q8 = Int8Linear.from_linear(linear)
    calls: list[int] = []
    assert kernel is not None
    real = kernel.linear
    def counted(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return real(x, w, s)

    monkeypatch.setattr(kernel, "linear", counted)
    for rows in (1, FAST_MAX_ROWS, FAST_MAX_ROWS + 1):
        x = torch.randn(1, rows, 64)
        expected = nn.functional.linear(x, q8.weight_int8.float()) * q8.scale + linear.bias
        assert torch.allclose(q8(x), expected, atol=1e-5)
    assert calls == [1, FAST_MAX_ROWS]  # a longer step went to torch's GEMM
