"""A server behind "NAT", reached only through the relay, on a real swarm.

The relayed inferer runs in a network namespace the test creates and listens on that
namespace's own loopback: nothing outside can dial it. Its only path out is a veth pair
to the bootstrap peer, which listens on both sides and relays (libp2p circuit relay v2,
hivemind's p2pd). Outside, one inferer serves blocks 0:15 and a direct one serves the
same 15:30 as the relayed one. The test checks that the relayed server reserves a slot
and announces a circuit address in its signed DHT record (``relayed: true``), that the
planner prefers the direct server (relay penalty), and that with the direct one banned
the client generates through the relay (the first server pushes to the relayed one over
a circuit, the relayed one answers the client over another) with greedy tokens equal to
the single-process engine. Per-token latency through the relay is measured against the
direct server in the same run.

The prompt is long on purpose: its prefill sends ≈ 460 KB of hidden states each way
through the relay, more than the 128 KiB a relayed connection of hivemind 1.1.12's p2pd
carries when its default-limits relay wins the race at start (``helio bootstrap``
checks its relay and restarts it until the full one serves; node/swarm/relay.py).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
import torch

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.swarm_client import SwarmClient
from node.engine import InProcessRoute, Span
from node.harness.swarm import LocalSwarm
from node.swarm import netns
from node.swarm.records import ServerState
from node.swarm.relay import CIRCUIT

pytestmark = [
    pytest.mark.slow, pytest.mark.model,
    pytest.mark.skipif(netns.available() is not None, reason=str(netns.available())),
]
MODEL = "smollm2-135m-instruct"
PROMPT = "The sun rises over the quiet sea and the fishermen go out. " * 16
PROMPT_TOKENS = 200  # 200 × 576 × 4 bytes ≈ 460 KB per prefill, > 128 KiB
NEW_TOKENS = 16


def test_relayed_server_is_found_penalized_and_generates_through_the_relay(
        smollm2_dir: Path, tmp_path: Path) -> None:
    client_model = ClientModel(smollm2_dir)
    ids = list(client_model.tokenizer.encode(PROMPT))[:PROMPT_TOKENS]
    assert len(ids) == PROMPT_TOKENS
    params = SamplingParams(max_new_tokens=NEW_TOKENS)
    reference = _reference(client_model, smollm2_dir, ids, params)

    fixed = ["--throughput", "15"]  # equal announced speed: only the relay penalty differs
    with netns.Namespace("helio-relay", index=9) as ns, \
            LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=5) as swarm:
        swarm.start_bootstrap(also_listen=[ns.root_ip])
        first = swarm.start_inferer((0, 15), name="first", wait=False, extra_args=fixed)
        direct = swarm.start_inferer((15, 30), name="direct", wait=False, extra_args=fixed)
        # Inside the namespace, listening on its own loopback: unreachable from here.
        relayed = swarm.start_inferer((15, 30), name="relayed", wait=False, netns=ns.name,
                                      extra_args=[*fixed, "--auto-relay", "--host", "127.0.0.1"])
        swarm.wait_ready()
        with SwarmClient(swarm.initial_peers) as client:
            record = _wait_for_record(client, relayed.peer_id)
            assert record.relayed
            assert record.maddrs and all(CIRCUIT in m for m in record.maddrs), record.maddrs

            hops = client.wait_for_coverage(MODEL, 30)
            assert [h.peer_id for h in hops] == [first.peer_id, direct.peer_id], "the relay penalty should pick the direct server"

            def generate() -> tuple[list[int], list[float], list[tuple[str, int, int]]]:
                route = client.route(MODEL, 30, 576)
                tokens = list(generate_tokens(client_model, route, ids, params))
                return tokens, [wall for wall, _ in route.timings[1:]], route.peers

            direct_tokens, direct_ms, direct_route = generate()
            client.ban(direct.peer_id, "test: use the relayed server")
            # The DHT is eventually consistent: a node the relayed server's `online` store
            # missed may still hand out its `loading` copy until the next refresh.
            hops = client.wait_for_coverage(MODEL, 30)
            assert [h.peer_id for h in hops] == [first.peer_id, relayed.peer_id]
            relayed_tokens, relayed_ms, relayed_route = generate()
            links = client.loop.run(client.peer.p2p.list_peers())
            via = [str(a) for link in links if str(link.peer_id) == relayed.peer_id for a in link.addrs]
            assert via and all(CIRCUIT in a for a in via), via  # the client reached it through the relay
            client.unban(direct.peer_id)
            direct_tokens2, direct_ms2, _ = generate()


    assert direct_route == [(first.peer_id, 0, 15), (direct.peer_id, 15, 30)]
    assert relayed_route == [(first.peer_id, 0, 15), (relayed.peer_id, 15, 30)]
    first_log = (tmp_path / "logs" / "first.log").read_text().splitlines()
    assert not [line for line in first_log if "push to" in line and "failed" in line]  # pushed via the relay
    assert relayed_tokens == reference
    assert direct_tokens == reference and direct_tokens2 == reference
    direct_median = statistics.median(direct_ms + direct_ms2)
    relayed_median = statistics.median(relayed_ms)
    print(f"per-token latency (median of {len(relayed_ms)} decode steps): direct {direct_median:.1f} ms, "
          f"through the relay {relayed_median:.1f} ms ({relayed_median - direct_median:+.1f} ms)")


def _wait_for_record(client: SwarmClient, peer_id: str, timeout: float = 60.0):  # noqa: ANN202
    """``peer_id``'s record once it is online with addresses (a fresh DHT read each try)."""
    deadline = time.monotonic() + timeout
    while True:
        record = client.records(MODEL, 30).get(peer_id)
        if record is not None and record.maddrs and record.state == ServerState.ONLINE:
            return record
        assert time.monotonic() < deadline, f"no online record with addresses from {peer_id}: {record}"
        time.sleep(0.5)


def test_a_relayed_server_that_cannot_push_on_gets_its_hand_off_carried_by_the_client(
        smollm2_dir: Path, tmp_path: Path) -> None:
    """The relayed server in the middle of the chain: the first server pushes to it through
    the relay, but it cannot dial the last one (no relay address, no route out of its
    namespace but the relay). Its push fails once, it says so (``push_failed``), the client
    sends that step to the last server itself and keeps doing so without asking again; the
    greedy tokens equal the engine's."""
    client_model = ClientModel(smollm2_dir)
    ids = list(client_model.tokenizer.encode(PROMPT))[:32]
    params = SamplingParams(max_new_tokens=NEW_TOKENS)
    reference = _reference(client_model, smollm2_dir, ids, params)
    with netns.Namespace("helio-relay", index=9) as ns, \
            LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=5) as swarm:
        swarm.start_bootstrap(also_listen=[ns.root_ip])
        first = swarm.start_inferer((0, 10), name="first", wait=False)
        middle = swarm.start_inferer((10, 20), name="middle", wait=False, netns=ns.name,
                                     extra_args=["--auto-relay", "--host", "127.0.0.1"])
        last = swarm.start_inferer((20, 30), name="last", wait=False)
        swarm.wait_ready()
        with SwarmClient(swarm.initial_peers) as client:
            _wait_for_record(client, middle.peer_id)
            hops = client.wait_for_coverage(MODEL, 30)
            assert [h.peer_id for h in hops] == [first.peer_id, middle.peer_id, last.peer_id]
            route = client.route(MODEL, 30, 576)
            tokens = list(generate_tokens(client_model, route, ids, params))
            assert route.no_push == {(middle.peer_id, last.peer_id)}
            assert route.failovers == 0

    assert tokens == reference
    middle_log = (tmp_path / "logs" / "middle.log").read_text()
    first_log = (tmp_path / "logs" / "first.log").read_text()
    assert middle_log.count("push to") == 1, "asked to push again after it failed"
    assert "push to" not in first_log  # the first server's pushes through the relay all worked


def _reference(client_model: ClientModel, model_dir: Path, ids: list[int], params: SamplingParams) -> list[int]:
    """Greedy tokens of the single-process engine, at the inferers' 1 torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # same kernels, same bits
    try:
        return list(generate_tokens(client_model, InProcessRoute([Span(model_dir, 0, 30)]), ids, params))
    finally:
        torch.set_num_threads(threads)
