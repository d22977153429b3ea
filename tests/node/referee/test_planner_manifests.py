"""Routes chain only spans of one manifest (issue #15): the same model id may name other
weights elsewhere, and block 10 of one conversion cannot follow block 9 of another."""

from __future__ import annotations

import pytest
from test_planner import MODEL, PEERS, rec, spans

from node.referee.planner import RoutePlanner
from node.swarm.errors import MissingBlocksError

A = "Qm" + "A" * 44
B = "Qm" + "B" * 44


def test_plan_never_chains_spans_of_two_manifests() -> None:
    # the cheapest mixed route would be 0 → 3 (two fast halves of different weights)
    records = [rec(0, 0, 15, manifest_cid=A), rec(3, 15, 30, manifest_cid=B, throughput=1000.0),
               rec(1, 15, 30, manifest_cid=A, throughput=1.0), rec(2, 0, 30, manifest_cid=B, throughput=1.0)]
    for wanted, expected in ((A, [(PEERS[0], 0, 15), (PEERS[1], 15, 30)]), (B, [(PEERS[2], 0, 15), (PEERS[3], 15, 30)])):
        assert spans(RoutePlanner().plan(records, MODEL, 0, 30, manifest_cid=wanted)) == expected
    unpinned = RoutePlanner().plan(records, MODEL, 0, 30)
    cids = {r.peer_id: r.manifest_cid for r in records}
    assert len({cids[h.peer_id] for h in unpinned}) == 1


def test_plan_without_a_cid_takes_the_manifest_that_covers_the_range() -> None:
    records = [rec(0, 0, 30, manifest_cid=A), rec(1, 0, 15, manifest_cid=B), rec(2, 0, 15, manifest_cid=B)]
    assert spans(RoutePlanner().plan(records, MODEL, 0, 30)) == [(PEERS[0], 0, 30)]


def test_plan_for_a_manifest_nobody_serves_names_the_missing_blocks() -> None:
    records = [rec(0, 0, 30, manifest_cid=A), rec(1, 0, 30)]  # rec 1: no CID (older software)
    with pytest.raises(MissingBlocksError):
        RoutePlanner().plan(records, MODEL, 0, 30, manifest_cid=B)
    assert spans(RoutePlanner().plan(records, MODEL, 0, 30, manifest_cid=A)) == [(PEERS[0], 0, 30)]
