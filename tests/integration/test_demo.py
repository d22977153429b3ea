"""The README's first command, end to end: `scripts/demo.py --once` (what `make demo
ARGS=--once` runs after setup) starts a real anvil, deploys, converts/reuses the real
SmolLM2 and answers through the span engine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from node.core.paths import PROJECT_ROOT


@pytest.mark.slow
@pytest.mark.model
def test_demo_once_answers_paris_and_exits_zero(smollm2_dir: object) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "demo.py"), "--once"],
        capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    answer = [line for line in proc.stdout.splitlines() if line.startswith("ANSWER:")]
    assert answer and "Paris" in answer[0], proc.stdout[-2000:]
