"""Helpers shared by the real-process swarm tests (imported as ``swarmkit``: tests/ has no
packages)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from node.core.paths import PROJECT_ROOT

MODEL = "smollm2-135m-instruct"


def helio_status(initial_peers: list[str], *args: str, **env_extra: str) -> dict[str, Any]:
    """`helio status --json` of the 30-block model, as an operator runs it (without
    --rpc-url: no chain, energy reports must be signed by the inferers' own addresses)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    env.pop("HELIO_RPC_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "status", "--model", MODEL, "--num-blocks", "30", "--json",
         *[arg for m in initial_peers for arg in ("--initial-peers", m)], *args],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
