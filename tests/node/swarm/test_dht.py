"""The swarm DHT on real hivemind peers (loopback): announce, fetch, ignore bad records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hivemind.utils import get_dht_time

from node.swarm.dht import block_key, gaps
from node.swarm.peer import LoopThread, Peer, PeerConfig, start_peer
from node.swarm.records import ServerState, sign_record

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def dht_peers() -> Iterator[tuple[LoopThread, Peer, Peer]]:
    loop = LoopThread("test-dht")
    server = loop.run(start_peer(PeerConfig()), timeout=60)
    maddrs = loop.run(server.maddrs())
    client = loop.run(start_peer(PeerConfig(initial_peers=maddrs, client_mode=True)), timeout=60)
    yield loop, server, client
    loop.run(client.shutdown(), timeout=30)
    loop.run(server.shutdown(), timeout=30)
    loop.stop()


def test_announce_then_fetch_returns_the_signed_record(dht_peers: Any, make_record: Any,
                                                       key_of: Any) -> None:
    loop, server, client = dht_peers
    record = make_record(0, 2, 5, peer_id=server.peer_id, timestamp=get_dht_time())
    assert loop.run(server.dht.announce(MODEL, record.blocks, server.peer_id,
                                        sign_record(record, key_of(0)), ttl_s=30))
    found = loop.run(client.dht.fetch(MODEL, 6))
    assert found == {server.peer_id: record}
    assert gaps(found, 6) == [0, 1, 5]


def test_fetch_ignores_and_logs_invalid_records(dht_peers: Any, make_record: Any, key_of: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    loop, server, client = dht_peers
    good = make_record(1, 0, 2, peer_id=client.peer_id, timestamp=get_dht_time())
    forged = good.model_copy(update={"throughput": 9999.0})  # altered after signing
    expires = get_dht_time() + 30

    async def store_raw() -> None:
        await server.node.store(block_key(MODEL, 0), b"junk", expires, subkey="12D3KooWjunk")
        signed = sign_record(good, key_of(1)).replace(b'"throughput":20.0', b'"throughput":9999.0')
        await server.node.store(block_key(MODEL, 1), signed, expires, subkey=good.peer_id)
        offline = make_record(2, 0, 1, state=ServerState.OFFLINE, timestamp=get_dht_time())
        await server.node.store(block_key(MODEL, 0), sign_record(offline, key_of(2)), expires,
                                subkey=offline.peer_id)

    loop.run(store_raw())
    with caplog.at_level(logging.WARNING, logger="node.swarm.dht"):
        found = loop.run(client.dht.fetch(MODEL, 6))
    assert forged not in found.values()
    assert all(r.throughput < 9999 for r in found.values())
    assert any("invalid DHT record" in m for m in caplog.messages)
    assert gaps(found, 2) == [0, 1]  # the only record there is offline
