"""A rebalance fetches the new span before it releases the old one (issue #15): a failed
fetch leaves the inferer serving its span, with the failure in its announced record."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from node.chain.devkeys import DEV_ACCOUNTS
from node.inferer import server as server_module
from node.inferer.config import InfererConfig
from node.inferer.server import InfererServer
from node.models.tiny import write_tiny_model
from node.swarm.records import ServerState


def _server(tmp_path: Path, fetch: object) -> InfererServer:
    model_dir = write_tiny_model("llama", tmp_path / "tiny")
    config = InfererConfig(model_dir=model_dir, blocks=(0, 2), private_key=DEV_ACCOUNTS[1].private_key,
                           fetch_span=fetch)  # type: ignore[arg-type]
    server = InfererServer(config)
    server.blocks, server.state = (0, 2), ServerState.ONLINE
    return server


class _Dht:
    def __init__(self) -> None:
        self.announced: list[bytes] = []

    async def fetch(self, model_id: str, num_blocks: int) -> dict[str, object]:
        return {}

    async def announce(self, model_id: str, blocks: range, subkey: str, value: bytes, ttl: float) -> bool:
        self.announced.append(value)
        return True


class _Peer:  # the DHT side only: no p2p daemon is needed to decide a move
    peer_id = "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi"
    daemon_alive = True

    def __init__(self) -> None:
        self.dht = _Dht()

    async def maddrs(self) -> list[str]:
        return []


def test_a_failed_fetch_keeps_the_old_span_and_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(start: int, end: int) -> None:
        raise OSError(f"no IPFS provider for block_{start:03d}.safetensors")

    server = _server(tmp_path, unreachable)
    server.peer = _Peer()  # type: ignore[assignment]
    unloaded: list[bool] = []

    async def unload() -> None:
        unloaded.append(True)

    monkeypatch.setattr(server, "unload_span", unload)
    monkeypatch.setattr(server_module, "should_move", lambda *args: 2)  # the swarm wants blocks 2:4
    asyncio.run(server._maybe_move())

    assert unloaded == [] and server.blocks == (0, 2) and server.state == ServerState.ONLINE
    assert server.problem == "could not fetch blocks 2:4 to move there: no IPFS provider for block_002.safetensors"
    record = json.loads(server.peer.dht.announced[-1])["record"]  # type: ignore[union-attr]
    assert record["state"] == "online" and record["problem"] == server.problem


def test_a_move_fetches_the_new_span_first_and_clears_the_problem(tmp_path: Path) -> None:
    asked: list[tuple[int, int]] = []
    server = _server(tmp_path, lambda start, end: asked.append((start, end)))
    server.problem = "an earlier failure"
    assert asyncio.run(server._fetched_for_move(2, 4))
    assert asked == [(2, 4)] and server.problem is None
