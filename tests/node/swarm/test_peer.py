"""Joining through the initial peers (a real hivemind daemon on loopback)."""

from __future__ import annotations

import socket
import time

import pytest
from conftest import PEERS

from node.swarm.errors import SwarmError
from node.swarm.peer import LoopThread, PeerConfig, start_peer


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_reachable_initial_peer_is_a_clear_error_after_retries() -> None:
    loop = LoopThread("test-peer-dead")
    dead = f"/ip4/127.0.0.1/tcp/{_closed_port()}/p2p/{PEERS[0]}"
    started = time.monotonic()
    try:
        with pytest.raises(SwarmError, match="could not reach any initial peer .* in 3 tries"):
            loop.run(start_peer(PeerConfig(initial_peers=[dead])), timeout=90)
    finally:
        loop.stop()
    assert time.monotonic() - started >= 6  # it waited 2 s + 4 s between the tries
