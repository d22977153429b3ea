"""``helio bench engine|swarm --device``: the same device option and clear error as
``helio node serve`` (node/engine/device.py), raised before any model loads or any
process starts (this test machine has torch's CPU wheel: CUDA and MPS are absent)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from node.core.paths import PROJECT_ROOT


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present here")
@pytest.mark.parametrize("part", ["engine", "swarm"])
def test_bench_refuses_an_absent_gpu_before_starting(part: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "bench", part, "--device", "cuda", "--json"],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert proc.returncode == 1
    message = " ".join(proc.stderr.split())  # rich wraps long lines
    assert "error: --device cuda:" in message and "sees no CUDA GPU here; use --device cpu" in message
    assert "Traceback" not in message and proc.stdout == ""


def test_bench_refuses_an_unknown_device() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "bench", "engine", "--device", "gpu"],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert proc.returncode == 1 and "unknown device 'gpu'" in " ".join(proc.stderr.split())
