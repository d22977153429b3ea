"""Helpers for the IPFS tests: a publisher process serving a real converted model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Publisher:
    proc: subprocess.Popen[str]
    manifest_cid: str
    addrs: list[str]
    data_dir: Path

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def start_publisher(model_dir: Path, data_dir: Path) -> Publisher:
    cmd = [
        sys.executable, "-c", "from node.cli.main import main; main()",
        "model", "publish", "--model-dir", str(model_dir), "--data-dir", str(data_dir),
        "--cache-dir", str(data_dir / "cache"), "--serve", "--json",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    data_dir.mkdir(parents=True, exist_ok=True)
    errors = data_dir / "stderr.log"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the JSON line comes once everything is pinned
    if not line:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"publisher exited: {errors.read_text()[-2000:]}")
    info = json.loads(line)
    return Publisher(proc, info["manifest_cid"], info["addrs"], data_dir)
