"""The web app in real headless Chromium (Debian's ``chromium`` + npm ``playwright-core``):
a chat message gets a streamed answer; the dashboard shows the inferers and their blocks.
Screenshots go to ``<cache>/test-artifacts/gateway/`` (HELIO_TEST_ARTIFACTS overrides)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from node.core.settings import Settings

pytestmark = [pytest.mark.model, pytest.mark.slow]

WEB = Path(__file__).resolve().parents[2] / "gateway" / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def dist() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium first")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        pytest.skip("gateway/web/node_modules is missing: run `make setup`")
    if not (WEB / "dist" / "index.html").is_file():
        subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, capture_output=True, timeout=300)
    return WEB / "dist"


@pytest.fixture
def artifacts() -> Path:
    where = Path(os.environ.get("HELIO_TEST_ARTIFACTS") or Settings().cache_dir / "test-artifacts") / "gateway"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    return where


def test_chat_streams_and_dashboard_shows_blocks(start_gateway, dist: Path, artifacts: Path) -> None:
    gw = start_gateway(web_dist=dist)
    proc = subprocess.run(["node", "tests/browser.mjs", gw.url, str(artifacts)], cwd=WEB,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["model"] == "smollm2-135m-instruct"
    assert "Paris" in seen["answer"]
    assert seen["partial_states"] >= 2, "the answer did not arrive in pieces (not streamed)"
    num_blocks = gw.gateway.models["smollm2-135m-instruct"].num_blocks
    assert seen["servers"] == [f"0–{num_blocks - 1}"]
    assert (seen["blocks"], seen["gap_blocks"]) == (num_blocks, 0)
    assert seen["rpm"] >= 1  # the chat request shows up in requests per minute
    assert seen["console_errors"] == []
    for name in ("chat.png", "dashboard.png"):
        assert (artifacts / name).stat().st_size > 5_000
