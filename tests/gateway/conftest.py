"""Gateway fixtures: the real SmolLM2 loaded once per session (``served``), and a fresh
gateway (own limits, ledger, channels) served over real HTTP on loopback per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from gwkit import MODEL

from gateway.app import create_app
from gateway.served_model import ServedModel, in_process_routes
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import Gateway, build_gateway
from node.client import ClientModel


@pytest.fixture(scope="session")
def served(smollm2_dir: Path) -> ServedModel:
    factory, spans = in_process_routes(smollm2_dir)
    client = ClientModel(smollm2_dir)
    return ServedModel(MODEL, client, factory, client.manifest.num_blocks, spans)


class Running:
    def __init__(self, gateway: Gateway, server: GatewayServer) -> None:
        self.gateway = gateway
        self.server = server
        self.url = server.url

    def openai(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0,
                             timeout=120, **kwargs)


@pytest.fixture
def start_gateway(served: ServedModel) -> Iterator[Callable[..., Running]]:
    servers: list[GatewayServer] = []

    def start(stakers: set[str] | None = None, web_dist: Path | None = None, **settings: Any) -> Running:
        gateway = build_gateway(GatewaySettings(**settings), {MODEL: served}, stakers=stakers)
        server = GatewayServer(create_app(gateway, web_dist=web_dist)).start()
        servers.append(server)
        return Running(gateway, server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def gw(start_gateway: Callable[..., Running]) -> Running:
    return start_gateway()


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built web app; skips browser tests where Chromium or the npm deps are missing."""
    import os
    import subprocess

    from gwkit import WEB

    chromium = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        pytest.skip(f"{chromium} is missing: `make test` installs Debian's chromium first")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        pytest.skip("gateway/web/node_modules is missing: run `make setup`")
    if not (WEB / "dist" / "index.html").is_file():
        subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, capture_output=True, timeout=300)
    return WEB / "dist"


@pytest.fixture
def artifacts() -> Callable[[str], Path]:
    """``artifacts(case)``: a fresh folder for a test's screenshots."""
    import os
    import shutil

    from node.core.settings import Settings

    root = Path(os.environ.get("HELIO_TEST_ARTIFACTS") or Settings().cache_dir / "test-artifacts")

    def folder(case: str) -> Path:
        where = root / "gateway" / case
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        return where

    return folder


# Two inferer processes behind the energy gate (fixed power, not enforced: they serve at
# once and sign a report every poll): 1000 W available, so 880 W beyond the 120 W idle
# draw, capacity 8; UTC+1 and UTC+8 declared. Shared by the swarm gateway tests.
SWARM_INFERERS = (((0, 15), 5, "1"), ((15, 30), 6, "8"))  # (blocks, dev key, UTC offset)


@pytest.fixture(scope="session")
def energy_swarm(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from node.harness.swarm import LocalSwarm

    with LocalSwarm(smollm2_dir, tmp_path_factory.mktemp("swarm-logs"), refresh_s=5) as local:
        local.start_bootstrap()
        for blocks, key, tz in SWARM_INFERERS:
            local.start_inferer(blocks, dev_key=key, wait=False, extra_args=[
                "--energy", "fixed", "--energy-watts", "1000", "--no-energy-enforce", "--tz-offset", tz])
        local.wait_ready()
        yield local

