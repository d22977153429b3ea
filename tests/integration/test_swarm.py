"""A real swarm on loopback: a bootstrap process and five inferer processes serving real
SmolLM2 blocks (0:10 twice, 10:20 twice, 20:30), discovered through the DHT; the client
routes through them with server-to-server push. Greedy output must equal the
single-process engine token for token, also when a server dies or hangs mid-generation
or a peer lies about its blocks."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from swarmkit import helio_status

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.engine import InProcessRoute, Span
from node.harness.swarm import LocalSwarm, SwarmProcess

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
SPANS = [(0, 10), (0, 10), (10, 20), (10, 20), (20, 30)]
PROMPT = [{"role": "user", "content": "Name three colors."}]
NEW_TOKENS = 10


@pytest.fixture(scope="module")
def swarm(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSwarm]:
    with LocalSwarm(smollm2_dir, tmp_path_factory.mktemp("swarm-logs"), refresh_s=5) as local:
        local.start_bootstrap()
        for span in SPANS:
            local.start_inferer(span, wait=False)
        local.wait_ready()
        yield local


@pytest.fixture(scope="module")
def client_model(smollm2_dir: Path) -> ClientModel:
    return ClientModel(smollm2_dir)


@pytest.fixture(scope="module")
def reference(smollm2_dir: Path, client_model: ClientModel) -> list[int]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the inferers run 1 thread: same kernels, same bits
    try:
        route = InProcessRoute([Span(smollm2_dir, 0, 30)])
        ids = client_model.encode_chat(PROMPT)
        return list(generate_tokens(client_model, route, ids, SamplingParams(max_new_tokens=NEW_TOKENS)))
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def client(swarm: LocalSwarm) -> Iterator[SwarmClient]:
    with SwarmClient(swarm.initial_peers, config=ClientConfig(step_timeout_s=4.0, ban_s=60)) as c:
        yield c


def _generate(client: SwarmClient, client_model: ClientModel, on_token: Any = None) -> tuple[list[int], Any]:
    route = client.route(MODEL, 30, 576)
    ids = client_model.encode_chat(PROMPT)
    tokens = []
    for index, token in enumerate(generate_tokens(client_model, route, ids, SamplingParams(max_new_tokens=NEW_TOKENS))):
        tokens.append(token)
        if on_token is not None:
            on_token(index, route)
    return tokens, route


def _process_of(swarm: LocalSwarm, peer_id: str) -> SwarmProcess:
    return next(p for p in swarm.inferers if p.peer_id == peer_id)


def test_swarm_generation_equals_single_process(swarm: LocalSwarm, client: SwarmClient,
                                                client_model: ClientModel, reference: list[int]) -> None:
    records = client.records(MODEL, 30)
    assert len(records) == len(SPANS) and all(r.state == "online" for r in records.values())
    tokens, route = _generate(client, client_model)
    assert tokens == reference
    assert [(start, end) for _, start, end in route.peers] == [(0, 10), (10, 20), (20, 30)]
    assert len({peer for peer, _, _ in route.peers}) == 3  # three processes
    # one signed commitment per hop and step, each by that hop's own address
    assert route.step_index >= len(tokens)  # the prefill, then one decode step per token read
    assert len(route.evidence) == 3 * route.step_index
    assert {e.address for e in route.evidence} == {records[p].address for p, _, _ in route.peers}


def test_killed_server_mid_generation_keeps_the_text(swarm: LocalSwarm, client: SwarmClient,
                                                     client_model: ClientModel, reference: list[int]) -> None:
    killed: list[SwarmProcess] = []

    def kill_middle(index: int, route: Any) -> None:
        if index == 3:
            victim = _process_of(swarm, route.hops[1].peer_id)
            swarm.kill(victim)
            killed.append(victim)

    tokens, route = _generate(client, client_model, kill_middle)
    assert tokens == reference
    assert route.failovers == 1 and killed and not killed[0].alive
    assert killed[0].peer_id not in {peer for peer, _, _ in route.peers}


def test_hung_server_is_rerouted_after_its_timeout(swarm: LocalSwarm, client: SwarmClient,
                                                   client_model: ClientModel, reference: list[int]) -> None:
    stopped: list[SwarmProcess] = []

    def freeze_first(index: int, route: Any) -> None:
        if index == 2:
            victim = _process_of(swarm, route.hops[0].peer_id)
            os.killpg(victim.pid, signal.SIGSTOP)  # type: ignore[arg-type]
            stopped.append(victim)

    try:
        started = time.monotonic()
        tokens, route = _generate(client, client_model, freeze_first)
        assert tokens == reference
        assert route.failovers == 1 and stopped[0].peer_id not in {p for p, _, _ in route.peers}
        assert time.monotonic() - started < 60
    finally:
        for proc in stopped:
            os.killpg(proc.pid, signal.SIGCONT)  # type: ignore[arg-type]


def test_peer_claiming_blocks_it_does_not_serve_is_banned(swarm: LocalSwarm, smollm2_dir: Path,
                                                          client_model: ClientModel, reference: list[int]) -> None:
    """An in-process server that serves 20:30 but announces 0:30 with a huge throughput:
    the planner picks it, its `open` fails, the client bans it and routes around it."""
    from node.chain.devkeys import DEV_ACCOUNTS
    from node.inferer.config import InfererConfig
    from node.inferer.server import InfererServer
    from node.swarm.peer import LoopThread, PeerConfig

    loop = LoopThread("liar")
    liar = InfererServer(InfererConfig(
        model_dir=smollm2_dir, blocks=(20, 30), private_key=DEV_ACCOUNTS[9].private_key,
        peer=PeerConfig(initial_peers=swarm.initial_peers), throughput_override=1000.0))
    try:
        loop.run(liar.start(), timeout=120)
        liar.blocks = (0, 30)  # the lie
        loop.run(liar.announce())
        with SwarmClient(swarm.initial_peers, config=ClientConfig(step_timeout_s=4.0)) as client:
            deadline = time.monotonic() + 20
            while client.records(MODEL, 30).get(liar.peer.peer_id, None) is None:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the liar's record never showed up"
                time.sleep(0.5)
            tokens, route = _generate(client, client_model)
            assert tokens == reference
            assert liar.peer.peer_id in client.banned()  # type: ignore[union-attr]
            assert liar.peer.peer_id not in {p for p, _, _ in route.peers}  # type: ignore[union-attr]
    finally:
        liar.blocks = (20, 30)
        loop.run(liar.shutdown(), timeout=60)
        loop.stop()


def test_helio_status_lists_the_live_servers(swarm: LocalSwarm) -> None:
    status = helio_status(swarm.initial_peers)
    alive = {p.peer_id for p in swarm.inferers if p.alive}
    online = {s["peer_id"] for s in status["servers"] if s["state"] == "online"}
    assert alive <= online
    assert status["gaps"] == []
    assert {(s["start"], s["end"]) for s in status["servers"]} <= set(SPANS)
    assert all(s["energy"] is None for s in status["servers"])  # no --energy: no report


def test_no_swarm_process_outlives_the_swarm(swarm: LocalSwarm) -> None:
    pids = swarm.pids()
    groups = [p.pid for p in swarm._all if p.popen is not None]  # noqa: SLF001
    swarm.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for group in groups:  # p2pd children were in the same groups (close() waits for them)
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
