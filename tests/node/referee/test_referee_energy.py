"""Energy-aware scheduling: ranking, drain forecast, admission ratio, queue, chains."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.core.errors import ConfigError
from node.energy.state import InfererState
from node.referee.energy import (
    AtCapacityError,
    EnergyBook,
    EnergyClaim,
    EnergyScheduler,
    SchedulerConfig,
    energy_time,
    greedy_chain,
    sun_left,
)
from node.referee.energy_admission import AdmissionQueue

NOON_UTC = 1_774_008_000.0  # 2026-03-20 12:00 UTC


def claim(name: str, headroom: float, *, t: float = NOON_UTC, state=InfererState.ONLINE,
          soc: float | None = None, capacity: int = 8, sessions: int = 0, zone: float | None = 0.0,
          nonce: int | None = None, span: tuple[int, int] | None = None) -> EnergyClaim:
    return EnergyClaim(inferer=name, state=state, timestamp=t, headroom_w=headroom, battery_soc=soc,
                       nonce=int(t) if nonce is None else nonce, capacity=capacity,
                       sessions=sessions, utc_offset_h=zone, span=span)


def scheduler(*claims: EnergyClaim, **cfg) -> EnergyScheduler:
    config = SchedulerConfig(**cfg)
    book = EnergyBook(config)
    for c in claims:
        book.update(c)
    return EnergyScheduler(book, config)


def test_prefers_headroom_then_battery() -> None:
    s = scheduler(claim("a", 100.0), claim("b", 2000.0), claim("c", 100.0, soc=0.9))
    assert [r.inferer for r in s.rank(NOON_UTC)] == ["b", "c", "a"]


def test_sunlit_zone_carries_the_load() -> None:
    # Same headroom and battery; at 12:00 UTC it is morning in UTC-5 and evening in UTC+8.
    s = scheduler(claim("evening", 500.0, zone=8.0, soc=0.8), claim("morning", 500.0, zone=-5.0, soc=0.8))
    assert [r.inferer for r in s.rank(NOON_UTC)] == ["morning", "evening"]
    assert sun_left(NOON_UTC, -5.0) == pytest.approx(11 / 12)
    assert sun_left(NOON_UTC, 8.0) == 0.0
    assert sun_left(NOON_UTC, None) == 0.5


def test_sun_is_read_on_the_inferers_energy_clock() -> None:
    # An accelerated trace replay (the demo) runs its own day: its morning inferer reports
    # 09:00 local time while the wall clock here says it is evening there.
    wall = NOON_UTC + 10 * 3600  # 22:00 UTC
    replayed = replace(claim("replayed", 500.0, t=wall), clock_time=NOON_UTC - 3 * 3600)
    s = scheduler(claim("wall", 500.0, t=wall), replayed)
    assert energy_time(replayed, wall + 60) == NOON_UTC - 3 * 3600 + 60
    assert energy_time(claim("wall", 500.0, t=wall), wall + 60) == wall + 60
    assert [r.inferer for r in s.rank(wall)] == ["replayed", "wall"]  # its sun is still up


def test_filters_offline_stale_and_full_inferers() -> None:
    s = scheduler(
        claim("draining", 3000.0, state=InfererState.DRAINING),
        claim("stale", 3000.0, t=NOON_UTC - 600),
        claim("full", 3000.0, sessions=8),
        claim("ok", 10.0),
    )
    assert [r.inferer for r in s.rank(NOON_UTC)] == ["ok"]


def test_falling_headroom_forecasts_a_drain_and_sinks() -> None:
    book_claims = [claim("sunset", 900.0 - 100.0 * i, t=NOON_UTC - 300 + 60 * i) for i in range(6)]
    s = scheduler(*book_claims, claim("steady", 150.0))
    assert s.book.trend_w_per_s("sunset") == pytest.approx(-100.0 / 60.0)
    ranked = s.rank(NOON_UTC)
    assert [r.inferer for r in ranked] == ["steady", "sunset"]  # 400 W now, but 0 in 15 min
    assert ranked[1].drain_risk and not ranked[0].drain_risk
    # a charged battery rescues it
    rescued = scheduler(*[claim(c.inferer, c.headroom_w, t=c.timestamp, soc=0.9) for c in book_claims])
    assert not rescued.rank(NOON_UTC)[0].drain_risk


def test_book_ignores_replayed_and_older_claims() -> None:
    book = EnergyBook()
    assert book.update(claim("a", 500.0, nonce=5))
    assert not book.update(claim("a", 9000.0, nonce=5))
    assert not book.update(claim("a", 9000.0, nonce=4, t=NOON_UTC + 10))
    assert book.claims["a"].headroom_w == 500.0
    board = book.board(NOON_UTC + 200)
    assert board[0]["inferer"] == "a" and board[0]["stale"] and board[0]["state"] == "online"


def test_admission_enforces_the_inferer_to_user_ratio() -> None:
    s = scheduler(claim("a", 3000.0, capacity=20), claim("b", 3000.0, capacity=3), users_per_inferer=5)
    for i in range(8):  # 5 on a (ratio cap), 3 on b (its energy capacity)
        best = s.rank(NOON_UTC)[0]
        s.admit(f"s{i}", [best.inferer], NOON_UTC)
    assert s.capacity(NOON_UTC) == 0 and s.active == 8
    with pytest.raises(AtCapacityError, match="full"):
        s.admit("s9", ["a"], NOON_UTC)
    with pytest.raises(AtCapacityError, match="no online inferer"):
        s.admit("s9", [], NOON_UTC)
    assert s.release("s0") and s.capacity(NOON_UTC) == 1
    with pytest.raises(ConfigError, match="already admitted"):
        s.admit("s1", ["a"], NOON_UTC)


def test_queue_waits_in_order_then_refuses() -> None:
    q = AdmissionQueue(max_wait_s=30.0, max_len=2)
    q.push("s1", 0.0)
    q.push("s2", 10.0)
    with pytest.raises(AtCapacityError, match="already wait"):
        q.push("s3", 10.0)
    room = {"n": 0}

    def fits(_: str) -> bool:
        if room["n"] > 0:
            room["n"] -= 1
            return True
        return False

    assert q.pump(20.0, fits) == ([], [])
    room["n"] = 1
    assert q.pump(25.0, fits) == (["s1"], [])
    assert q.pump(41.0, fits) == ([], ["s2"])  # waited 31 s
    assert len(q) == 0


def test_greedy_chain_covers_spans() -> None:
    s = scheduler(
        claim("front", 2000.0, span=(0, 15)), claim("back", 1500.0, span=(15, 30)),
        claim("back2", 100.0, span=(10, 30)), claim("whole", 50.0, span=(0, 30)),
    )
    assert greedy_chain(s.rank(NOON_UTC), 30) == ["front", "back"]
    only_front = scheduler(claim("front", 2000.0, span=(0, 15)))
    assert greedy_chain(only_front.rank(NOON_UTC), 30) is None
