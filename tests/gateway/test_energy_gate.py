"""``EnergyGate`` without processes: real signed energy reports in swarm records, verified
by the real ``RecordEnergy``, planned by the real ``RoutePlanner`` and admitted by the
real ``EnergyScheduler`` + ``AdmissionQueue``. Only the DHT is left out: the records are
handed to the planner directly (the over-HTTP test with real inferer processes is in
test_energy_admission.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.energy_gate import EnergyGate
from node.chain.devkeys import DEV_ACCOUNTS
from node.energy.attest import build_report, energy_domain, sign_payload
from node.energy.reading import EnergyReading
from node.energy.state import InfererState
from node.referee.energy import AtCapacityError
from node.referee.energy_records import RecordEnergy
from node.referee.planner import RoutePlanner
from node.swarm.peer import LoopThread
from node.swarm.records import ServerRecord, ServerState

MODEL = "smollm2-135m-instruct"
PEERS = [f"12D3KooW{'ABCDEFGHJK'[i]}" + "x" * 44 for i in range(4)]


def signed_energy(i: int, sessions: int = 0, at: float | None = None, capacity: int = 8) -> str:
    now = time.time() if at is None else at
    reading = EnergyReading(timestamp=now, source="fixed", available_w=900.0, headroom_w=900.0)
    report = build_report(DEV_ACCOUNTS[i].address, reading, InfererState.ONLINE, 0.0,
                          nonce=int(now * 1000), timestamp=int(now))
    extras = {"capacity": capacity, "sessions": sessions, "span": [0, 30]}
    return sign_payload(report, extras, DEV_ACCOUNTS[i].private_key, energy_domain()).to_bytes().decode()


def record(i: int, energy: str | None) -> ServerRecord:
    return ServerRecord(
        peer_id=PEERS[i], address=DEV_ACCOUNTS[i].address, model_id=MODEL, state=ServerState.ONLINE,
        start=0, end=30, throughput=100.0, cache_tokens_left=4096, dtype="float32",
        software_version="0.1.0", timestamp=1.0, energy=energy)


class RecordsClient:
    """The part of ``SwarmClient`` the gate uses, over records set by the test."""

    def __init__(self, records: list[ServerRecord]) -> None:
        self.records = records
        self.energy = RecordEnergy()
        self.planner = RoutePlanner(penalty_ms=self.energy.penalty)
        self.loop = LoopThread("test-gate")
        self.plans = 0

    async def plan(self, model_id: str, num_blocks: int, start: int, end: int, *, max_length: int) -> Any:
        self.plans += 1
        self.energy.observe(self.records)
        return self.planner.plan(self.records, model_id, start, end, max_length=max_length)


@pytest.fixture
def client() -> Any:
    c = RecordsClient([record(0, signed_energy(0)), record(1, signed_energy(1))])
    yield c
    c.loop.stop()


def test_gate_admits_up_to_the_ratio_then_queues_fifo_then_refuses(client) -> None:
    async def scenario() -> None:
        gate = EnergyGate(client, MODEL, 30, queue_s=5.0, ratio=1, poll_s=0.05)
        first = await gate.admit("s1", 64)
        second = await gate.admit("s2", 64)
        # one session per inferer: the two went to different inferers
        assert {first.gated, second.gated} == {(DEV_ACCOUNTS[0].address,), (DEV_ACCOUNTS[1].address,)}
        third = asyncio.create_task(gate.admit("s3", 64))
        while gate.waiting < 1:  # s3 is in line before s4 arrives
            await asyncio.sleep(0.01)
        fourth = asyncio.create_task(gate.admit("s4", 64))
        await asyncio.sleep(0.3)
        assert not third.done() and not fourth.done() and gate.waiting == 2
        first.release()  # frees one slot: the first in line gets it, the other keeps waiting
        admitted = await asyncio.wait_for(third, 2.0)
        assert admitted.gated == first.gated and not fourth.done()
        second.release()
        assert (await asyncio.wait_for(fourth, 2.0)).gated == second.gated
        # Full again; a short queue refuses with the "at capacity" error.
        gate.queue_s = 0.2
        gate._queue.max_wait_s = 0.2  # noqa: SLF001 - shorten this gate's wait for the test
        with pytest.raises(AtCapacityError, match="at its energy capacity"):
            await gate.admit("s5", 64)
        assert gate.refused == 1 and gate.waiting == 0 and gate.scheduler.active == 2

    asyncio.run(scenario())


def test_a_cancelled_waiter_leaves_the_queue_and_holds_nothing(client) -> None:
    async def scenario() -> None:
        gate = EnergyGate(client, MODEL, 30, queue_s=5.0, ratio=1, poll_s=0.05)
        held = [await gate.admit("a", 64), await gate.admit("b", 64)]
        waiting = asyncio.create_task(gate.admit("c", 64))
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert gate.waiting == 0
        for h in held:
            h.release()
        h.release()  # idempotent
        await asyncio.sleep(0.2)
        assert gate.scheduler.active == 0

    asyncio.run(scenario())


def test_a_swarm_without_energy_claims_is_not_gated() -> None:
    client = RecordsClient([record(0, None), record(1, None)])
    try:
        async def scenario() -> None:
            gate = EnergyGate(client, MODEL, 30, queue_s=0.1, ratio=1)
            admissions = [await gate.admit(f"s{i}", 64) for i in range(5)]
            assert all(a.gated == () for a in admissions) and gate.scheduler.active == 0

        asyncio.run(scenario())
    finally:
        client.loop.stop()


def test_a_claim_signed_while_our_session_was_open_stops_counting_it_once_it_closed(client) -> None:
    async def scenario() -> None:
        gate = EnergyGate(client, MODEL, 30, queue_s=5.0, ratio=1, poll_s=0.05)
        held = [await gate.admit("a", 64), await gate.admit("b", 64)]
        await asyncio.sleep(1.1)  # the inferers report (signed) while our sessions are open
        client.records = [record(0, signed_energy(0, sessions=1)), record(1, signed_energy(1, sessions=1))]
        held[0].release()
        # The newest claims still say 1 session each, but that one was ours and it closed.
        admitted = await asyncio.wait_for(gate.admit("c", 64), 1.0)
        assert admitted.gated == held[0].gated
        # Someone else's session (not ours) still counts: the other inferer stays full.
        client.records = [record(0, signed_energy(0, sessions=2)), record(1, signed_energy(1, sessions=1))]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(gate.admit("d", 64), 0.5)

    asyncio.run(scenario())
