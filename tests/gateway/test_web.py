"""The web app in real headless Chromium (Debian's ``chromium`` + npm ``playwright-core``):
a chat message gets a streamed answer; the dashboard shows the inferers and their blocks.
Screenshots go to ``<cache>/test-artifacts/gateway/<case>/`` (HELIO_TEST_ARTIFACTS
overrides). The same check over a real swarm is in test_swarm_gateway.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from gwkit import WEB

pytestmark = [pytest.mark.model, pytest.mark.slow]

def browse(url: str, artifacts: Path) -> dict:
    """Run gateway/web/tests/browser.mjs (chat, then dashboard) against ``url``."""
    proc = subprocess.run(["node", "tests/browser.mjs", url, str(artifacts)], cwd=WEB,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_chat_streams_and_dashboard_shows_blocks(start_gateway, web_dist: Path, artifacts) -> None:
    where = artifacts("in-process")
    gw = start_gateway(web_dist=web_dist)
    seen = browse(gw.url, where)
    assert seen["model"] == "smollm2-135m-instruct"
    assert "Paris" in seen["answer"]
    assert seen["partial_states"] >= 2, "the answer did not arrive in pieces (not streamed)"
    num_blocks = gw.gateway.models["smollm2-135m-instruct"].num_blocks
    shown = seen["models"]["smollm2-135m-instruct"]
    assert shown["servers"] == [f"0–{num_blocks - 1}"]
    assert (shown["blocks"], shown["gap_blocks"]) == (num_blocks, 0)
    assert seen["rpm"] >= 1  # the chat request shows up in requests per minute
    assert seen["console_errors"] == []
    for name in ("chat.png", "dashboard.png"):
        assert (where / name).stat().st_size > 5_000
