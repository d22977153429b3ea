"""Issue #13 over real processes: a swarm of four inferers serving real SmolLM2 blocks,
one of them cheating (HELIO_TEST_ADVERSARY=noise, test only). A client with an embedded
referee (sampling every session here) generates through the cheater; after the answer,
the referee replays that hop on the two honest inferers of the same blocks, finds the
fingerprints disagree, and the cheater gets no route from then on, while generation
keeps working through the honest ones. (The same loop on a real chain, with the claim,
the slash and the jail: tests/integration/test_integrity_chain.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.audit import embed_referee
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.harness.swarm import LocalSwarm
from node.referee.planner import Hop

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
PROMPT = [{"role": "user", "content": "Name three colors."}]


@pytest.fixture(scope="module")
def swarm(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSwarm]:
    with LocalSwarm(smollm2_dir, tmp_path_factory.mktemp("integrity-logs"), refresh_s=5) as local:
        local.start_bootstrap()
        local.start_inferer((0, 10), name="cheater", dev_key=1, wait=False,
                            extra_env={"HELIO_TEST_ADVERSARY": "noise"})
        local.start_inferer((0, 10), name="honest-a", dev_key=2, wait=False)
        local.start_inferer((0, 10), name="honest-b", dev_key=3, wait=False)
        local.start_inferer((10, 30), name="tail", dev_key=4, wait=False)
        local.start_inferer((0, 10), name="forger", dev_key=5, wait=False,
                            extra_env={"HELIO_TEST_ADVERSARY": "forge"})
        local.wait_ready()
        yield local


def test_cheater_is_found_after_the_answer_and_never_routed_again(swarm: LocalSwarm, smollm2_dir: Path) -> None:
    model = ClientModel(smollm2_dir)
    cheater = next(p for p in swarm.inferers if p.name == "cheater").peer_id
    with SwarmClient(swarm.initial_peers, config=ClientConfig(step_timeout_s=20.0)) as client:
        checker, loop_task = embed_referee(client, rate=1.0)
        client.wait_for_coverage(MODEL, 30)
        records = client.records(MODEL, 30)
        tail = next(r for r in records.values() if r.start == 10)
        route = client.route(MODEL, 30, 576)
        route.pinned = [Hop(cheater, 0, 10, records[cheater].address, tuple(records[cheater].maddrs)),
                        Hop(tail.peer_id, 10, 30, tail.address, tuple(tail.maddrs))]
        ids = model.encode_chat(PROMPT)
        started = time.monotonic()
        tokens = list(generate_tokens(model, route, ids, SamplingParams(max_new_tokens=4)))
        answered = time.monotonic() - started
        assert tokens and route.peers[0][0] == cheater  # the answer came, through the cheater
        deadline = time.monotonic() + 120
        while not any(v.outcome == "fraud" for v in checker.verdicts) and time.monotonic() < deadline:
            time.sleep(0.5)
        fraud = next(v for v in checker.verdicts if v.outcome == "fraud")
        assert fraud.accused == records[cheater].address and len(fraud.verifiers) == 2
        assert checker.reputation.excluded(records[cheater].address)
        for _ in range(5):  # the planner never picks it again
            hops = client.loop.run(client.plan(MODEL, 30, 0, 30, max_length=64))
            assert cheater not in {h.peer_id for h in hops}
        route = client.route(MODEL, 30, 576)
        assert list(generate_tokens(model, route, ids, SamplingParams(max_new_tokens=4)))
        assert cheater not in {peer for peer, _, _ in route.peers}
        loop_task.cancel()
    assert answered < 120  # auditing happened after the answer, not inside it


def test_a_bad_commitment_is_a_peer_failure_not_an_aborted_generation(swarm: LocalSwarm, smollm2_dir: Path) -> None:
    """The forger sends right outputs with a fingerprint of another output: the client
    bans it, re-routes its blocks, replays the kept inputs and finishes the answer; the
    evidence goes to the referee, which stops routing to it."""
    model = ClientModel(smollm2_dir)
    forger = next(p for p in swarm.inferers if p.name == "forger").peer_id
    with SwarmClient(swarm.initial_peers, config=ClientConfig(step_timeout_s=20.0)) as client:
        checker, loop_task = embed_referee(client, rate=0.0)
        client.wait_for_coverage(MODEL, 30)
        records = client.records(MODEL, 30)
        tail = next(r for r in records.values() if r.start == 10)
        route = client.route(MODEL, 30, 576)
        route.pinned = [Hop(forger, 0, 10, records[forger].address, tuple(records[forger].maddrs)),
                        Hop(tail.peer_id, 10, 30, tail.address, tuple(tail.maddrs))]
        tokens = list(generate_tokens(model, route, model.encode_chat(PROMPT), SamplingParams(max_new_tokens=4)))
        assert len(tokens) == 4 and route.failovers >= 1
        assert forger in client.banned() and forger not in {peer for peer, _, _ in route.peers}
        (verdict,) = [v for v in checker.verdicts if v.accused == records[forger].address]
        assert verdict.outcome == "fraud" and "fingerprint" in verdict.note
        assert checker.reputation.excluded(records[forger].address)
        loop_task.cancel()


def test_helio_referee_runs_as_its_own_process(swarm: LocalSwarm) -> None:
    """``helio referee`` joins, sends a probe generation of real text, audits it (rate 1)
    and reports its verdicts (off-chain: no --rpc-url)."""
    import os
    import subprocess
    import sys

    from node.core.paths import PROJECT_ROOT

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("HELIO_RPC_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "referee", "--rate", "1", "--probe-interval", "0.1",
         "--max-probes", "1", "--probe-tokens", "3",
         *[arg for m in swarm.initial_peers for arg in ("--initial-peers", m)]],
        capture_output=True, text=True, timeout=400, cwd=PROJECT_ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("HELIO_REFEREE"))
    assert "offered=" in line and "sampled=" in line
    assert "sampled=0" not in line  # the probe's hop sessions were audited
