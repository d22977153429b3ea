"""`helio join --hours H` stops the node by itself after H hours, through the same clean
stop as SIGTERM (a real process, unstaked: no chain given, held back by a 0 W source)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.core.paths import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.model]


def test_join_hours_stops_cleanly(smollm2_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIO_")}
    env |= {"HF_HUB_OFFLINE": "1", "COLUMNS": "200", "HELIO_CACHE_DIR": str(tmp_path / "cache")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "join", "--yes", "--model-dir", str(smollm2_dir),
         "--energy", "fixed", "--energy-watts", "0", "--energy-window", "15", "--threads", "1",
         "--hours", "0.003"],  # 10.8 s
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    took = time.monotonic() - started
    log = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, log[-3000:]
    assert "hours 0.003" in log and "will stop after 0.003 h" in log
    assert "stop requested" in log
    assert took >= 10.8, took  # not before the hours were up
    (record,) = (tmp_path / "cache" / "join").glob("*.json")
    assert '"hours": 0.003' in record.read_text()
