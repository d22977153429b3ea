"""An interrupted `helio model fetch` (process killed) resumes; the bandwidth cap holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ipfs_helpers import Publisher

from node.core.manifest import Manifest
from node.ipfs import fetch_model
from node.ipfs.embedded import EmbeddedStore
from node.ipfs.fetch import PARTIAL_DIR

pytestmark = [pytest.mark.slow, pytest.mark.model]


def fetch_cmd(publisher: Publisher, tmp_path: Path, span: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", "from node.cli.main import main; main()", "model", "fetch",
        publisher.manifest_cid, "--span", span, "--data-dir", str(tmp_path / "node"),
        "--cache-dir", str(tmp_path / "cache"), "--json",
        *[arg for addr in publisher.addrs for arg in ("--peer", addr)], *extra,
    ]


def test_killed_fetch_resumes_where_it_stopped(publisher: Publisher, tmp_path: Path) -> None:
    model_dir = tmp_path / "cache" / "fetched" / publisher.manifest_cid
    # 8 blocks of ≈ 14 MB at 20 MB/s: ≈ 5 s, long enough to kill it half-way.
    proc = subprocess.Popen(fetch_cmd(publisher, tmp_path, "12:20", "--max-mb-s", "20"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(model_dir.glob("block_*.safetensors"))) < 3:
        assert proc.poll() is None, "the fetch ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    done = sorted(p.name for p in model_dir.glob("block_*.safetensors"))
    assert 3 <= len(done) < 8
    manifest = Manifest.load(model_dir)
    manifest.verify(model_dir, done)  # whatever has a final name is complete and correct

    # The rerun (same data dir: Kubo's repo lock died with the process) skips those.
    result = subprocess.run(fetch_cmd(publisher, tmp_path, "12:20"), capture_output=True,
                            text=True, timeout=120, env={**os.environ})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(done) <= set(report["reused"])
    assert set(report["fetched"]) | set(report["reused"]) == {
        "config.json", *manifest.block_files(12, 20)}
    assert len(report["fetched"]) <= 8 - len(done)
    manifest.verify(model_dir, manifest.block_files(12, 20))
    assert not (model_dir / PARTIAL_DIR).exists()


def test_bandwidth_cap_slows_the_fetch(
    publisher: Publisher, make_store: Callable[[str], EmbeddedStore], tmp_path: Path
) -> None:
    store = make_store("b")
    start = time.perf_counter()
    result = fetch_model(publisher.manifest_cid, store, tmp_path / "cache", span=(20, 22),
                         peers=publisher.addrs, max_mb_per_s=10)
    elapsed = time.perf_counter() - start
    megabytes = result.bytes_fetched / 1e6
    assert megabytes > 25
    # At 10 MB/s with a 0.5 s burst allowance, ≈ 28 MB cannot take less than 2.3 s.
    assert elapsed >= (megabytes - 5) / 10, (elapsed, megabytes)
