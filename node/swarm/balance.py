"""Span selection: which blocks a joining server takes, and when a server should move.

Petals' rule: the swarm is as fast as its weakest block, so a joining server takes the
window of its length where the swarm is weakest (compare windows by their sorted
per-block throughputs, lowest first). A running server periodically asks whether moving
would raise the swarm's bottleneck (its minimum per-block throughput) by more than a
margin, and moves only then, so two servers never chase each other back and forth.
"""

from __future__ import annotations

from collections.abc import Iterable

from node.swarm.records import ServerRecord, ServerState

# Servers that already hold (or are loading) blocks count toward coverage.
COUNTED_STATES = (ServerState.JOINING, ServerState.LOADING, ServerState.ONLINE)


def block_throughputs(records: Iterable[ServerRecord], num_blocks: int,
                      exclude: str | None = None) -> list[float]:
    """Per block, the summed throughput (tokens/s) of the servers that serve it."""
    totals = [0.0] * num_blocks
    for record in records:
        if record.peer_id == exclude or record.state not in COUNTED_STATES:
            continue
        for block in range(record.start, min(record.end, num_blocks)):
            totals[block] += record.throughput
    return totals


def choose_best_start(throughputs: list[float], length: int) -> int:
    """Start of the ``length``-block window whose sorted throughputs are smallest
    (lexicographically): fills gaps first, then the weakest region; ties → lowest start."""
    if not 0 < length <= len(throughputs):
        raise ValueError(f"a span of {length} blocks does not fit a model of {len(throughputs)}")
    options = (
        (sorted(throughputs[i : i + length]), i) for i in range(len(throughputs) - length + 1)
    )
    return min(options)[1]


def should_move(records: Iterable[ServerRecord], me: ServerRecord, num_blocks: int,
                margin: float) -> int | None:
    """The start this server should move to, or None to stay.

    Moves only if the swarm's bottleneck after the move beats the current one by more
    than ``margin`` (0.2 = 20 %), or fills a gap without opening another one.
    """
    records = [r for r in records if r.peer_id != me.peer_id]
    without_me = block_throughputs(records, num_blocks)
    current = list(without_me)
    for block in range(me.start, me.end):
        current[block] += me.throughput
    length = me.end - me.start
    start = choose_best_start(without_me, length)
    if start == me.start:
        return None
    moved = list(without_me)
    for block in range(start, start + length):
        moved[block] += me.throughput
    before, after = min(current), min(moved)
    if before == 0:  # a gap: move only if the move leaves fewer uncovered blocks
        return start if moved.count(0.0) < current.count(0.0) else None
    return start if after > before * (1 + margin) else None
