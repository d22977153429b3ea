"""Span selection on a real swarm: a server started with ``--blocks auto`` takes the
weakest window (Petals' rule), and a server whose blocks are duplicated moves to fill a
gap (``--rebalance``) — once: the swarm then stays put."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.client.swarm_client import SwarmClient
from node.harness.swarm import LocalSwarm
from node.swarm.dht import gaps

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"


def test_auto_blocks_fill_the_weakest_window_and_a_duplicate_moves(smollm2_dir: Path, tmp_path: Path) -> None:
    with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=2) as swarm:
        swarm.start_bootstrap()
        first = swarm.start_inferer((0, 10), extra_args=["--rebalance", "3"])
        duplicate = swarm.start_inferer((0, 10), extra_args=["--rebalance", "3"], wait=False)
        swarm.wait_ready([duplicate])
        auto = swarm.start_inferer(None, extra_args=["--num-blocks", "10"])
        # 0..9 is served (twice): auto takes an empty window (10:20, or 20:30 if the
        # duplicate already moved to 10:20)
        assert auto.blocks in ((10, 20), (20, 30))
        with SwarmClient(swarm.initial_peers) as client:
            deadline = time.monotonic() + 90
            while gaps(client.records(MODEL, 30), 30):
                assert time.monotonic() < deadline, client.records(MODEL, 30)
                time.sleep(1.0)
            records = client.records(MODEL, 30)
            spans = sorted((r.start, r.end) for r in records.values())
            assert spans == [(0, 10), (10, 20), (20, 30)]
            moved = {p.name for p in (first, duplicate) if records[p.peer_id].start != 0}
            assert len(moved) == 1  # exactly one of the two moved
            time.sleep(8)  # a few more rebalance checks: nobody moves again
            again = client.records(MODEL, 30)
            assert sorted((r.start, r.end) for r in again.values()) == spans
            assert {p for p, r in again.items() if r.state != "online"} == set()
