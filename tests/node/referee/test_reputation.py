"""Reputation from spot-check outcomes (local view + the chain's counts) weights routes;
jailed or lying inferers get none."""

from __future__ import annotations

from typing import Any

from node.chain.devkeys import DEV_ACCOUNTS
from node.referee.planner import RoutePlanner
from node.referee.reputation import Reputation
from node.swarm.records import ServerRecord, ServerState

MODEL = "smollm2-135m-instruct"
PEERS = [f"12D3KooW{'ABCDEFGHJK'[i]}" + "x" * 44 for i in range(4)]
A, B, C = (DEV_ACCOUNTS[i].address for i in range(3))


def rec(i: int, **fields: Any) -> ServerRecord:
    values: dict[str, Any] = {
        "peer_id": PEERS[i], "address": DEV_ACCOUNTS[i].address, "model_id": MODEL,
        "state": ServerState.ONLINE, "start": 0, "end": 30, "throughput": 100.0,
        "cache_tokens_left": 4096, "dtype": "float32", "software_version": "0.1.0",
        "timestamp": 1.0,
    }
    values.update(fields)
    return ServerRecord(**values)


def test_score_combines_local_outcomes_and_chain_counts() -> None:
    chain = {A: (8, 0), B: (8, 1)}
    reputation = Reputation(chain_counts=lambda a: chain.get(a, (0, 0)))
    assert reputation.score(C) == 0.5  # nobody checked it yet
    assert reputation.score(A) == 0.9
    assert reputation.score(B) < 0.5  # one failure outweighs eight passes
    reputation.record(C, passed=True)
    assert reputation.counts(C).passed == 1 and reputation.score(C) > 0.5


def test_jailed_and_lying_inferers_are_excluded_and_a_dead_chain_fails_closed() -> None:
    jailed = {B}
    reputation = Reputation(is_jailed=lambda a: a in jailed)
    reputation.lied(A, "fingerprint disagrees")
    assert reputation.excluded(A) and reputation.excluded(B) and not reputation.excluded(C)

    def unreachable(_: str) -> bool:
        raise ConnectionError("chain down")

    assert Reputation(is_jailed=unreachable).excluded(C)


def test_planner_weights_routes_by_trust_and_skips_excluded() -> None:
    reputation = Reputation(chain_counts=lambda a: {A: (0, 3), B: (20, 0)}.get(a, (0, 0)))
    records = [rec(0, throughput=120.0), rec(1)]  # A is faster but fails its checks
    planner = RoutePlanner(trust=reputation)
    assert [h.peer_id for h in RoutePlanner().plan(records, MODEL, 0, 30)] == [PEERS[0]]
    assert [h.peer_id for h in planner.plan(records, MODEL, 0, 30)] == [PEERS[1]]
    reputation.lied(B, "claimed")
    assert [h.peer_id for h in planner.plan(records, MODEL, 0, 30)] == [PEERS[0]]
    reputation.lied(A, "claimed")
    assert planner.usable(records) == []


def test_contribution_epochs_hold_disputed_work_and_drop_a_slashed_inferers() -> None:
    from node.referee.accounting import ContributionLedger

    ledger = ContributionLedger(epoch_s=60, started=0)
    ledger.record([(A, 10), (B, 10)], tokens=5)
    claimed = {B}
    ledger.disputed = lambda address: address in claimed
    record = ledger.close(1000)
    assert record is not None and dict(record.amounts) == {A: 1000}  # B's work waits
    assert ledger.work == {B: 50}
    claimed.clear()  # cleared: paid next epoch
    assert ledger.draft(1000) is not None and dict(ledger.draft(1000).amounts) == {B: 1000}  # type: ignore[union-attr]
    ledger.forfeit(B)  # or slashed: its share stays in the pool
    assert ledger.draft(1000) is None


def test_a_slashed_inferers_unpaid_work_is_forfeited_at_the_close() -> None:
    """A slash releases the freeze and jails: the held work must not be paid then."""
    from node.referee.accounting import ContributionLedger

    ledger = ContributionLedger(epoch_s=60, started=0)
    ledger.record([(A, 10), (B, 10)], tokens=5)
    jailed = {B}
    ledger.slashed = lambda address: address in jailed
    record = ledger.close(1000)
    assert record is not None and dict(record.amounts) == {A: 1000}
    assert ledger.work == {}  # B's share stayed in the pool; nothing of B's waits
