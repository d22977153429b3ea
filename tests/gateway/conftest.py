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
from gateway.routes import ServedModel, in_process_routes
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
