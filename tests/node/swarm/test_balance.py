"""Span selection (Petals' rule) and the move check that must not oscillate."""

from __future__ import annotations

from typing import Any

import pytest

from node.swarm.balance import block_throughputs, choose_best_start, should_move
from node.swarm.records import ServerState


def test_choose_best_start_fills_the_gap_first() -> None:
    assert choose_best_start([5, 5, 5, 0, 0, 5, 5, 5], 2) == 3
    assert choose_best_start([1, 1, 9, 9, 0, 9], 3) == 2  # holds the gap; ties → lowest start
    with pytest.raises(ValueError, match="does not fit"):
        choose_best_start([1, 2], 3)


def test_block_throughputs_sum_servers_and_skip_offline(make_record: Any) -> None:
    records = [make_record(0, 0, 3, throughput=2.0), make_record(1, 2, 4, throughput=3.0),
               make_record(2, 0, 4, throughput=50.0, state=ServerState.OFFLINE)]
    assert block_throughputs(records, 4) == [2.0, 2.0, 5.0, 3.0]


def test_should_move_fills_a_gap_left_by_a_duplicate(make_record: Any) -> None:
    a = make_record(0, 0, 10)
    b = make_record(1, 0, 10)  # duplicates a; blocks 20..29 are served by nobody
    c = make_record(2, 10, 20)
    assert should_move([a, b, c], b, 30, margin=0.2) == 20
    # after b moved, nobody wants to move again: no oscillation
    moved = make_record(1, 20, 30)
    for me in (a, moved, c):
        assert should_move([a, moved, c], me, 30, margin=0.2) is None


def test_should_move_needs_more_than_the_margin(make_record: Any) -> None:
    slow = make_record(0, 0, 10, throughput=10.0)
    fast = make_record(1, 0, 10, throughput=11.0)
    rest = [make_record(2, 10, 20, throughput=10.0), make_record(3, 10, 20, throughput=11.0)]
    # moving anyone would open a gap: stay
    assert should_move([slow, fast, *rest], slow, 20, margin=0.2) is None
    lone = make_record(4, 10, 20, throughput=12.0)
    extra = make_record(2, 0, 10, throughput=1.0)
    # blocks 0..9 have 22 tok/s, 10..19 have 12: extra moving there gains 8 % < 20 %
    assert should_move([slow, fast, extra, lone], extra, 20, margin=0.2) is None
    assert should_move([slow, fast, extra, lone], extra, 20, margin=0.05) == 10
