"""Energy in DHT records: signed reports verified from the record, routing prefers headroom,
and bad claims (wrong key, stale, about someone else) earn no bonus."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from node.chain.devkeys import DEV_ACCOUNTS
from node.energy.attest import build_report, energy_domain, sign_payload
from node.energy.reading import EnergyReading
from node.energy.state import InfererState
from node.referee.energy_records import RecordEnergy
from node.referee.planner import RoutePlanner
from node.swarm.errors import RecordError
from node.swarm.records import ServerRecord, ServerState, parse_record, sign_record

MODEL = "smollm2-135m-instruct"
PEERS = [f"12D3KooW{'ABCDEFGHJK'[i]}" + "x" * 44 for i in range(4)]
NOW = 1_790_000_000.0


def energy(i: int, headroom_w: float, *, key: str | None = None, inferer: str | None = None,
           timestamp: float = NOW) -> str:
    reading = EnergyReading(timestamp=timestamp, source="fixed", available_w=headroom_w,
                            headroom_w=headroom_w)
    report = build_report(inferer or DEV_ACCOUNTS[i].address, reading, InfererState.ONLINE, 0.0,
                          nonce=int(timestamp * 1000), timestamp=int(timestamp))
    extras = {"capacity": 8, "sessions": 0, "span": [0, 30]}
    payload = sign_payload(report, extras, key or DEV_ACCOUNTS[i].private_key, energy_domain())
    return payload.to_bytes().decode()


def rec(i: int, **fields: Any) -> ServerRecord:
    values: dict[str, Any] = {
        "peer_id": PEERS[i], "address": DEV_ACCOUNTS[i].address, "model_id": MODEL,
        "state": ServerState.ONLINE, "start": 0, "end": 30, "throughput": 100.0,
        "cache_tokens_left": 4096, "dtype": "float32", "software_version": "0.1.0",
        "timestamp": 1.0,
    }
    values.update(fields)
    return ServerRecord(**values)


def plan(records: list[ServerRecord]) -> str:
    energy_view = RecordEnergy(clock=lambda: NOW + 5)
    energy_view.observe(records)
    planner = RoutePlanner(penalty_ms=energy_view.penalty)
    hops = planner.plan(records, MODEL, 0, 30)
    assert len(hops) == 1
    return hops[0].peer_id


@pytest.mark.parametrize("order", [1, -1])
def test_planner_picks_the_server_with_more_headroom(order: int) -> None:
    records = [rec(0, energy=energy(0, 150.0)), rec(1, energy=energy(1, 900.0))][::order]
    assert plan(records) == PEERS[1]
    records = [rec(0, energy=energy(0, 900.0)), rec(1, energy=energy(1, 150.0))][::order]
    assert plan(records) == PEERS[0]


def test_energy_survives_the_signed_record_round_trip() -> None:
    record = rec(0, energy=energy(0, 600.0))
    value = sign_record(record, DEV_ACCOUNTS[0].private_key)
    parsed = parse_record(value, model_id=MODEL, block=3, subkey=PEERS[0])
    assert parsed.energy == record.energy
    claims = RecordEnergy(clock=lambda: NOW).observe([parsed])
    assert [c.headroom_w for c in claims] == [600.0]


def test_records_without_energy_sign_as_before() -> None:
    # no energy field: the canonical bytes do not mention it (older readers accept them)
    assert b"energy" not in rec(0).canonical()


def test_record_rejects_a_malformed_energy_field() -> None:
    with pytest.raises(ValueError, match="energy"):
        rec(0, energy='{"report": {}}')
    record = rec(0)
    value = sign_record(record, DEV_ACCOUNTS[0].private_key).replace(
        b'"timestamp"', b'"energy":"not json","timestamp"', 1)
    with pytest.raises(RecordError, match="malformed"):
        parse_record(value, model_id=MODEL, block=0, subkey=PEERS[0])


@pytest.mark.parametrize("why,bad", [
    ("signed by", lambda: energy(1, 2000.0, key=DEV_ACCOUNTS[3].private_key)),  # wrong key
    ("old", lambda: energy(1, 2000.0, timestamp=NOW - 3600)),  # stale
    ("not the record's", lambda: energy(1, 2000.0, key=DEV_ACCOUNTS[2].private_key,
                                        inferer=DEV_ACCOUNTS[2].address)),  # someone else's
])
def test_a_bad_claim_is_ignored_and_logged(why: str, bad: Any, caplog: pytest.LogCaptureFixture) -> None:
    # server 1 claims far more headroom than server 0, but its claim does not verify
    records = [rec(0, energy=energy(0, 150.0)), rec(1, energy=bad())]
    with caplog.at_level(logging.WARNING, logger="node.referee.energy_records"):
        assert plan(records) == PEERS[0]
    assert any(why in r.getMessage() for r in caplog.records), caplog.text


def test_no_energy_anywhere_routes_as_before() -> None:
    view = RecordEnergy(clock=time.time)
    records = [rec(0), rec(1, throughput=200.0)]
    view.observe(records)
    assert view.penalty(records[0]) == view.penalty(records[1]) == 0.0
    assert RoutePlanner(penalty_ms=view.penalty).plan(records, MODEL, 0, 30)[0].peer_id == PEERS[1]
