"""Chaos: random inferer processes are killed (also mid-generation) and restarted while
a client runs ≥ 20 generations. Each generation either completes with exactly the
single-process text, or fails with ``MissingBlocksError`` while some blocks have no live
server; once the servers are back, generation works again. No process is left over."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest
from chaoskit import reference_tokens

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.harness.swarm import LocalSwarm, SwarmProcess
from node.swarm.errors import MissingBlocksError

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
SPANS = [(0, 15), (0, 15), (15, 30), (15, 30)]
PROMPT = [{"role": "user", "content": "Say hello."}]
PARAMS = SamplingParams(max_new_tokens=5)
GENERATIONS = 20


def test_generations_survive_random_kills_and_restarts(smollm2_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(4)
    client_model = ClientModel(smollm2_dir)
    ids = client_model.encode_chat(PROMPT)
    reference = reference_tokens(smollm2_dir, client_model, ids, PARAMS)
    outcomes: list[str] = []
    kills: list[str] = []
    with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=3) as swarm:
        kill = swarm.kill

        def counted_kill(proc: SwarmProcess, *args: object) -> None:
            if proc.alive:
                kills.append(proc.name)
            kill(proc, *args)  # type: ignore[arg-type]

        swarm.kill = counted_kill  # type: ignore[method-assign]
        swarm.start_bootstrap()
        procs = [swarm.start_inferer(span, wait=False) for span in SPANS]
        swarm.wait_ready()
        config = ClientConfig(step_timeout_s=5.0, ban_s=3.0, max_ban_s=6.0, codec="none")  # fp32 wire: the reference is fp32
        with SwarmClient(swarm.initial_peers, config=config) as client:
            for generation in range(GENERATIONS):
                _chaos_step(swarm, procs, rng)
                timer = None
                alive = [p for p in procs if p.alive and p.ready.is_set()]
                if len(alive) >= 3 and rng.random() < 0.3:  # kill one while it generates
                    victim = rng.choice(alive)
                    timer = threading.Timer(rng.uniform(0.0, 0.6), swarm.kill, args=(victim,))
                    timer.start()
                try:
                    tokens = list(generate_tokens(client_model, client.route(MODEL, 30, 576), ids, PARAMS))
                    assert tokens == reference, f"generation {generation} differs"
                    outcomes.append("ok")
                except MissingBlocksError as exc:
                    assert "no server covers block" in str(exc)
                    outcomes.append("missing")
                    # recovers once a server returns: bring one back, the next must work
                    dead = [p for p in procs if not p.alive]
                    if dead:
                        swarm.restart(rng.choice(dead), wait=False)
                    swarm.wait_ready([p for p in procs if p.alive])
                finally:
                    if timer is not None:
                        timer.join()
            # a gap for sure: both servers of 15:30 down → a clear MissingBlocksError
            second_half = [p for p in procs if p.args[p.args.index("--blocks") + 1] == "15:30"]
            for proc in second_half:
                swarm.kill(proc)
            with pytest.raises(MissingBlocksError, match="no server covers block"):
                list(generate_tokens(client_model, client.route(MODEL, 30, 576), ids, PARAMS))
            outcomes.append("missing (forced)")
            # recovery: every server back, generation works again
            for proc in procs:
                if not proc.alive:
                    swarm.restart(proc, wait=False)
            swarm.wait_ready(procs)
            deadline = time.monotonic() + 60
            while True:
                try:
                    tokens = list(generate_tokens(client_model, client.route(MODEL, 30, 576), ids, PARAMS))
                    break
                except MissingBlocksError:  # bans of the dead peers still running out
                    assert time.monotonic() < deadline, "the swarm did not recover"
                    time.sleep(1.0)
            assert tokens == reference
        pids = swarm.pids()
    print(f"chaos: {len(kills)} kills, outcomes {outcomes}")
    assert len(kills) >= 4, kills  # the chaos really happened
    assert outcomes.count("ok") >= GENERATIONS // 3, outcomes
    assert len(outcomes) == GENERATIONS + 1
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _chaos_step(swarm: LocalSwarm, procs: list[SwarmProcess], rng: random.Random) -> None:
    """Between generations: maybe restart a dead server (in the background), maybe kill a
    live one while at least three are up (so both servers of a span are sometimes gone)."""
    dead = [p for p in procs if not p.alive]
    alive = [p for p in procs if p.alive and p.ready.is_set()]
    if dead and rng.random() < 0.6:
        swarm.restart(rng.choice(dead), wait=False)
    if len(alive) >= 3 and rng.random() < 0.3:
        swarm.kill(rng.choice(alive))
