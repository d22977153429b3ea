"""Relay helpers (node/swarm/relay.py) and real daemons on loopback: a peer started with
``use_auto_relay`` announces only its circuit address, the daemon accepts that address
(``connect``), and a third peer reaches the relayed peer's handler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hivemind.p2p import PeerID
from hivemind.proto import runtime_pb2
from hivemind.utils.multiaddr import Multiaddr

from node.core.errors import ConfigError
from node.swarm.peer import LoopThread, Peer, PeerConfig, start_peer
from node.swarm.relay import (
    CIRCUIT,
    circuit_maddrs,
    daemon_maddr,
    peer_of,
    pick_relays,
    relay_carries,
    relay_p2p_class,
)

RELAY = "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi"
SELF = "12D3KooWQSdtatzXoBEtbw96t6N8PWUvTrQydjkpzDRmNMtemFtt"


def test_daemon_maddr_writes_peer_ids_as_raw_multihashes() -> None:
    text = f"/ip4/127.0.0.1/tcp/4001/p2p/{RELAY}/p2p-circuit"
    encoded = daemon_maddr(text).to_bytes()
    assert str(daemon_maddr(text)) == text
    # /p2p/ = 0xa503, then a 38-byte identity multihash (0x00 0x24 ...), no CIDv1 prefix
    assert bytes.fromhex("a5032600") in encoded
    assert bytes.fromhex("a503280172") in Multiaddr(text).to_bytes()  # what hivemind writes
    assert daemon_maddr("/ip4/10.0.0.1/tcp/5").to_bytes() == Multiaddr("/ip4/10.0.0.1/tcp/5").to_bytes()


def test_circuit_maddrs_from_relays_then_advertised() -> None:
    relay = f"/ip4/10.0.0.1/tcp/4001/p2p/{RELAY}"
    advertised = f"/ip4/1.2.3.4/tcp/4001/p2p/{RELAY}/p2p-circuit/p2p/{SELF}"
    out = circuit_maddrs([relay], SELF, ["/ip4/127.0.0.1/tcp/9/p2p/" + SELF, advertised])
    assert out == [f"{relay}/p2p-circuit/p2p/{SELF}", advertised]
    assert peer_of(out[0]) == SELF and peer_of(relay) == RELAY and peer_of("/ip4/1.1.1.1") == ""


def test_pick_relays_keeps_one_reachable_address_per_peer() -> None:
    async def main() -> list[str]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await pick_relays([
                f"/ip4/127.0.0.1/tcp/1/p2p/{RELAY}",  # refused
                f"/ip4/127.0.0.1/tcp/{port}/p2p/{RELAY}",
                f"/ip4/127.0.0.1/tcp/1/p2p/{SELF}",  # nothing reachable: keep the first
            ], timeout=0.5)
        finally:
            server.close()

    picked = asyncio.run(main())
    assert [peer_of(m) for m in picked] == [RELAY, SELF]
    assert "/tcp/1/" not in picked[0] and "/tcp/1/" in picked[1]


def test_static_relay_flag_only_with_trusted_relays() -> None:
    cls = relay_p2p_class(True)
    args = cls._make_process_args("p2pd", autoRelay=True, trustedRelays="/ip4/1.2.3.4/tcp/1")
    assert "-relayDiscovery=0" in args
    assert "-relayDiscovery=0" not in cls._make_process_args("p2pd", autoRelay=True)
    assert relay_p2p_class(False) is not cls


def test_auto_relay_without_any_relay_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs a relay"):
        asyncio.run(start_peer(PeerConfig(use_auto_relay=True)))


@pytest.fixture(scope="module")
def relayed() -> Iterator[tuple[LoopThread, Peer, Peer, Peer]]:
    loop = LoopThread("test-relay")
    peers: list[Peer] = []
    try:
        relay = loop.run(start_peer(PeerConfig(relay_service=True)), timeout=60)
        peers.append(relay)
        relay_maddrs = loop.run(relay.maddrs())
        server = loop.run(start_peer(PeerConfig(initial_peers=relay_maddrs, use_auto_relay=True)), timeout=60)
        peers.append(server)
        client = loop.run(start_peer(PeerConfig(initial_peers=relay_maddrs, client_mode=True)), timeout=60)
        peers.append(client)
        yield loop, relay, server, client
    finally:
        for peer in reversed(peers):
            loop.run(peer.shutdown(), timeout=30)
        loop.stop()


def test_relayed_peer_is_reached_through_its_circuit_address(relayed: Any) -> None:
    loop, relay, server, client = relayed

    async def echo(request: runtime_pb2.ExpertRequest, _: Any) -> runtime_pb2.ExpertResponse:
        return runtime_pb2.ExpertResponse(metadata=request.metadata[::-1])

    loop.run(server.p2p.add_protobuf_handler("test.echo", echo, runtime_pb2.ExpertRequest))
    maddrs = loop.run(server.maddrs())
    assert maddrs and all(CIRCUIT in m and m.endswith(server.peer_id) for m in maddrs), maddrs
    assert peer_of(maddrs[0].split(CIRCUIT)[0]) == relay.peer_id

    deadline = time.monotonic() + 10  # the reservation is made within ms; allow a busy machine
    while not loop.run(client.connect(server.peer_id, maddrs)):
        assert time.monotonic() < deadline, "could not connect through the relay"
        time.sleep(0.2)
    # On loopback the daemons may also find each other directly (their Go DHT); that the
    # bytes go through the relay is checked in a namespace by test_swarm_relay.py.
    reply = loop.run(client.p2p.call_protobuf_handler(
        PeerID.from_base58(server.peer_id), "test.echo",
        runtime_pb2.ExpertRequest(metadata=b"through the relay"), runtime_pb2.ExpertResponse))
    assert reply.metadata == b"yaler eht hguorht"


def test_relay_check_tells_the_full_relay_from_the_default_limited_one(relayed: Any) -> None:
    loop, relay, _, _ = relayed
    # start_peer(relay_service=True) restarted the daemon until its relay passed the check
    assert loop.run(relay_carries(_loopback(loop.run(relay.maddrs()))), timeout=60)
    # A plain peer runs only p2pd's default-limits relay (128 KiB per relayed connection).
    plain = loop.run(start_peer(PeerConfig()), timeout=60)
    try:
        assert not loop.run(relay_carries(_loopback(loop.run(plain.maddrs()))), timeout=60)
        assert loop.run(relay_carries(_loopback(loop.run(plain.maddrs())), nbytes=64 * 1024), timeout=60)
    finally:
        loop.run(plain.shutdown(), timeout=30)


def _loopback(maddrs: list[str]) -> str:
    return next(m for m in maddrs if m.startswith("/ip4/127."))


def test_serve_refuses_a_relay_without_auto_relay_and_bad_relay_addresses() -> None:
    """`helio node serve --relay` is checked before anything starts (no process, no model);
    its addresses become PeerConfig.trusted_relays, which validates them."""
    from typer.testing import CliRunner

    from node.cli.main import app

    relay = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
    result = CliRunner().invoke(app, ["node", "serve", "--relay", relay])
    assert isinstance(result.exception, ConfigError) and "add --auto-relay" in str(result.exception)
    from node.swarm.peer import PeerConfig  # where --relay lands

    with pytest.raises(ConfigError, match="not a multiaddr"):
        PeerConfig(use_auto_relay=True, trusted_relays=["not-a-maddr"])
