"""Shared helpers for the swarm tests: signed records with anvil's PUBLIC dev keys."""

from __future__ import annotations

from typing import Any

import pytest

from node.chain.devkeys import DEV_ACCOUNTS
from node.swarm.records import ServerRecord, ServerState

PEERS = [
    "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi",
    "12D3KooWQSdtatzXoBEtbw96t6N8PWUvTrQydjkpzDRmNMtemFtt",
    "12D3KooWG1hPoMzSHvYj7dRtdBcRAYnQ6pM9Zn1NjDqALJE1zhvp",
    "12D3KooWH93z74DXGBpRzMhzUEyHhnkvxDhwnN8KPUANxA3wUZ2x",
    "12D3KooWN2x73LiUy3tDt8fGAsBWQjSYyrtnfjnW44KA6TWjo1Ec",
]


def make_record(index: int = 0, start: int = 0, end: int = 10, **fields: Any) -> ServerRecord:
    values: dict[str, Any] = {
        "peer_id": PEERS[index], "address": DEV_ACCOUNTS[index + 1].address,
        "model_id": "smollm2-135m-instruct", "state": ServerState.ONLINE, "start": start,
        "end": end, "throughput": 20.0, "cache_tokens_left": 4096, "dtype": "float32",
        "software_version": "0.1.0", "timestamp": 1_700_000_000.0,
    }
    values.update(fields)
    return ServerRecord(**values)


def key_of(index: int) -> str:
    return DEV_ACCOUNTS[index + 1].private_key


@pytest.fixture
def record() -> ServerRecord:
    return make_record()


@pytest.fixture(name="make_record")
def make_record_fixture() -> Any:
    return make_record


@pytest.fixture(name="key_of")
def key_of_fixture() -> Any:
    return key_of


@pytest.fixture
def peers() -> list[str]:
    return PEERS
