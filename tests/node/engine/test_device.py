"""``--device``: auto picks what torch sees, an absent GPU is a clear error (this test
machine has the CPU wheel: CUDA and MPS are absent), dtypes default per device, and a
span's forward runs on its device with hidden states coming and going on the CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from node.core.paths import PROJECT_ROOT
from node.engine import Span, SpanHost
from node.engine.device import DeviceError, default_dtype, resolve_device

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present here")


def test_cpu_and_auto_resolve_here() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected
    assert default_dtype(torch.device("cpu")) == "fp32"
    assert default_dtype(torch.device("mps")) == "fp16"
    for bad in ("gpu", "cuda:x", "cpu:1", ""):
        with pytest.raises(DeviceError, match="unknown device"):
            resolve_device(bad)


@no_cuda
def test_an_absent_gpu_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match=r"--device cuda: torch .* sees no CUDA GPU here; use --device cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="sees no CUDA GPU"):
        resolve_device("cuda:1")
    if not torch.backends.mps.is_available():
        with pytest.raises(DeviceError, match="no Apple GPU"):
            resolve_device("mps")


@no_cuda
def test_node_serve_refuses_an_absent_gpu_before_starting(tiny_dirs: dict[str, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "node", "serve", "--model-dir", str(tiny_dirs["llama"]),
         "--device", "cuda"],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 1
    message = " ".join(proc.stderr.split())  # rich wraps long lines
    assert "error: --device cuda:" in message and "sees no CUDA GPU here" in message
    assert "Traceback" not in message


def test_span_on_the_cpu_device_matches_the_default(tiny_dirs: dict[str, Path]) -> None:
    hidden = torch.randn(1, 5, 64, generator=torch.Generator().manual_seed(3))
    outputs = []
    for device in (None, "cpu"):
        span = Span(tiny_dirs["llama"], 0, 4) if device is None else Span(tiny_dirs["llama"], 0, 4, device=device)
        host = SpanHost(span)
        host.open("s", 8)
        outputs.append(host.step("s", hidden, 0))
    assert torch.equal(*outputs)
    assert outputs[1].device.type == "cpu"
