"""Route planner: cheapest chain of servers over (block, server) states."""

from __future__ import annotations

from typing import Any

import pytest

from node.chain.devkeys import DEV_ACCOUNTS
from node.referee.planner import PlannerConfig, RoutePlanner
from node.swarm.errors import MissingBlocksError
from node.swarm.records import ServerRecord, ServerState

MODEL = "smollm2-135m-instruct"
PEERS = [f"12D3KooW{'ABCDEFGHJK'[i]}" + "x" * 44 for i in range(10)]


def rec(i: int, start: int, end: int, **fields: Any) -> ServerRecord:
    values: dict[str, Any] = {
        "peer_id": PEERS[i], "address": DEV_ACCOUNTS[i].address, "model_id": MODEL,
        "state": ServerState.ONLINE, "start": start, "end": end, "throughput": 100.0,
        "cache_tokens_left": 4096, "dtype": "float32", "software_version": "0.1.0",
        "timestamp": 1.0,
    }
    values.update(fields)
    return ServerRecord(**values)


def spans(hops: list[Any]) -> list[tuple[str, int, int]]:
    return [(h.peer_id, h.start, h.end) for h in hops]


def test_plan_chains_three_spans() -> None:
    records = [rec(0, 0, 10), rec(1, 10, 20), rec(2, 20, 30)]
    hops = RoutePlanner().plan(records, MODEL, 0, 30)
    assert spans(hops) == [(PEERS[0], 0, 10), (PEERS[1], 10, 20), (PEERS[2], 20, 30)]
    assert hops[0].address == DEV_ACCOUNTS[0].address


def test_plan_prefers_fewer_hops_and_faster_servers() -> None:
    records = [rec(0, 0, 10), rec(1, 10, 20), rec(2, 20, 30), rec(3, 0, 30, throughput=100.0)]
    assert spans(RoutePlanner().plan(records, MODEL, 0, 30)) == [(PEERS[3], 0, 30)]
    slow = [*records[:3], rec(3, 0, 30, throughput=1.0)]
    assert len(RoutePlanner().plan(slow, MODEL, 0, 30)) == 3


def test_plan_uses_part_of_a_span_when_spans_do_not_line_up() -> None:
    records = [rec(0, 0, 12), rec(1, 8, 22), rec(2, 18, 30)]
    hops = RoutePlanner().plan(records, MODEL, 0, 30)
    assert [h.start for h in hops][0] == 0 and hops[-1].end == 30
    assert all(a.end == b.start for a, b in zip(hops, hops[1:], strict=False))


def test_plan_skips_banned_offline_full_and_unstaked_servers() -> None:
    records = [rec(0, 0, 30), rec(1, 0, 30, state=ServerState.DRAINING),
               rec(2, 0, 30, cache_tokens_left=10), rec(3, 0, 30), rec(4, 0, 30)]
    planner = RoutePlanner(is_staked=lambda r: r.peer_id != PEERS[3])
    hops = planner.plan(records, MODEL, 0, 30, banned={PEERS[0]}, max_length=100)
    assert spans(hops) == [(PEERS[4], 0, 30)]


def test_plan_raises_missing_blocks_naming_the_gap() -> None:
    records = [rec(0, 0, 10), rec(1, 20, 30)]
    with pytest.raises(MissingBlocksError, match="10-19") as info:
        RoutePlanner().plan(records, MODEL, 0, 30)
    assert info.value.blocks == list(range(10, 20))
    with pytest.raises(MissingBlocksError, match="no server of this model"):
        RoutePlanner().plan([], MODEL, 0, 30)


def test_plan_weighs_measured_latency_and_relays() -> None:
    near, far = rec(0, 0, 30), rec(1, 0, 30)
    planner = RoutePlanner(PlannerConfig(default_rtt_ms=5.0))
    assert spans(planner.plan([near, far], MODEL, 0, 30, rtts_ms={PEERS[0]: 80.0, PEERS[1]: 2.0}))[0][0] == PEERS[1]
    relayed = rec(1, 0, 30, relayed=True)
    assert spans(planner.plan([near, relayed], MODEL, 0, 30))[0][0] == PEERS[0]


def test_plan_subrange_starts_after_a_previous_server_using_its_pings() -> None:
    prev = rec(0, 0, 10, pings={PEERS[2]: 1.0, PEERS[1]: 90.0})
    records = [prev, rec(1, 10, 20), rec(2, 10, 20)]
    hops = RoutePlanner().plan(records, MODEL, 10, 20, previous=PEERS[0], return_to_client=False)
    assert spans(hops) == [(PEERS[2], 10, 20)]
