"""Energy-aware scheduling for the route planner: which inferers to prefer, which to
avoid, and how many sessions the swarm may take.

The planner (``node/referee``'s route planning) calls three things:

- ``EnergyBook.update(claim)``: remember an inferer's latest *verified* energy claim
  (``node.referee.energy_claims.verify_claim`` turns a signed report into one).
- ``EnergyScheduler.rank(now, candidates)``: the usable inferers, best first, each with a
  score and its free slots. Unusable (not online, stale claim, no capacity) are dropped;
  those forecast to drain soon sink to the bottom (used only when nothing else serves).
- ``planner_penalty(scheduler, now)``: the same preference as extra milliseconds per hop,
  for ``RoutePlanner(penalty_ms=...)`` (the latency planner stays the planner).
- ``EnergyScheduler.admit(session, route, now)`` / ``release(session)``: admission
  control: a session takes one slot on every inferer of its route; an inferer holds at
  most ``min(its energy capacity, users_per_inferer)`` sessions (the inferer-to-user
  ratio, default 1 inferer per 8 active users). ``AtCapacityError`` says the swarm is
  full; ``node.referee.energy_admission.AdmissionQueue`` queues before refusing.

Score (higher is better; every term is in 0..1 before its weight):
``w_headroom · min(headroom, 2·ref_power)/(2·ref_power) + w_battery · soc
+ w_sun · sun_left(local time) - w_load · sessions/slots - w_drain · drain_risk``.
``sun_left`` is the share of a 06:00-18:00 local day still ahead (from the inferer's
declared UTC offset, on its energy clock: ``energy_time``): of two inferers with equal
headroom, the one with more sun ahead carries the load, so regions in daylight serve and
the evening ones keep their battery.
``drain_risk`` is a forecast: the least-squares trend of the inferer's recent headroom
claims, extrapolated ``horizon_s`` ahead, reaches zero while its battery is below
``low_soc`` (or it has none).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from node.core.errors import ConfigError, HeliomeshError
from node.energy.state import InfererState


class AtCapacityError(HeliomeshError):
    """No route has a free slot: every online inferer already serves its share of users.
    Retry in a minute, or run an inferer: the swarm grows with its volunteers."""


@dataclass(frozen=True)
class EnergyClaim:
    """What a referee believes about one inferer's energy, from a verified report."""

    inferer: str  # checksummed address (the report's signer's inferer)
    state: InfererState
    timestamp: float  # when the inferer measured it (unix s)
    headroom_w: float  # renewable power beyond the machine's own draw (signed report)
    available_w: float = 0.0
    battery_soc: float | None = None  # 0..1
    nonce: int = 0
    # From the inferer's signed DHT record, beside the report:
    capacity: int = 0  # sessions its energy allows now
    sessions: int = 0  # sessions it reports open
    utc_offset_h: float | None = None  # declared region
    span: tuple[int, int] | None = None  # blocks [start, end) it serves
    # Its energy clock when it measured (unix s): wall time, or an accelerated trace's
    # simulated time (the demo); the dashboard shows local time from it and the sun
    # term of routing reads the hour from it (``energy_time``).
    clock_time: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state.label
        return d


@dataclass(frozen=True)
class SchedulerConfig:
    max_age_s: float = 120.0  # ignore claims older than this
    users_per_inferer: int = 8  # admission ratio: 1 inferer per this many active users
    ref_power_w: float = 300.0  # headroom is measured in units of a typical inferer's draw
    horizon_s: float = 900.0  # how far ahead the drain forecast looks
    trend_window_s: float = 900.0  # claims used for the headroom trend
    low_soc: float = 0.3  # a battery below this cannot rescue a falling headroom
    w_headroom: float = 1.0
    w_battery: float = 0.3
    w_sun: float = 0.3
    w_load: float = 0.5
    w_drain: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.users_per_inferer <= 1000:
            raise ConfigError(f"users_per_inferer must be within 1..1000, got {self.users_per_inferer}")
        if self.max_age_s <= 0 or self.horizon_s < 0 or self.ref_power_w <= 0:
            raise ConfigError("max_age_s and ref_power_w must be positive, horizon_s >= 0")


def sun_left(now: float, utc_offset_h: float | None) -> float:
    """Share (0..1) of a 06:00-18:00 local day still ahead; 0.5 if the region is unknown."""
    if utc_offset_h is None:
        return 0.5
    hour = ((now / 3600.0) + utc_offset_h) % 24.0
    if not 6.0 <= hour < 18.0:
        return 0.0
    return (18.0 - hour) / 12.0


def energy_time(claim: EnergyClaim, now: float) -> float:
    """``now`` on the inferer's energy clock: its reported clock time moved on by the wall
    time since (an accelerated trace replay runs its own day; the demo's starts at local
    noon whatever the hour here). Wall time when it reports no clock."""
    if claim.clock_time is None:
        return now
    return claim.clock_time + max(0.0, now - claim.timestamp)


class EnergyBook:
    """Latest claim per inferer plus a short headroom history for the trend."""

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config or SchedulerConfig()
        self.claims: dict[str, EnergyClaim] = {}
        self._history: dict[str, deque[tuple[float, float]]] = {}
        self._trend: dict[str, float] = {}  # W/s, recomputed when a claim arrives

    def update(self, claim: EnergyClaim) -> bool:
        """Keep ``claim`` if it is newer than what we have (nonce, then time)."""
        old = self.claims.get(claim.inferer)
        if old is not None and (claim.nonce, claim.timestamp) <= (old.nonce, old.timestamp):
            return False
        self.claims[claim.inferer] = claim
        hist = self._history.setdefault(claim.inferer, deque(maxlen=256))
        hist.append((claim.timestamp, claim.headroom_w))
        while hist and hist[0][0] < claim.timestamp - self.config.trend_window_s:
            hist.popleft()
        self._trend[claim.inferer] = _slope(hist)
        return True

    def forget(self, inferer: str) -> None:
        self.claims.pop(inferer, None)
        self._history.pop(inferer, None)
        self._trend.pop(inferer, None)

    def trend_w_per_s(self, inferer: str) -> float:
        """Least-squares slope of the recent headroom claims (W/s); 0 with < 3 points."""
        return self._trend.get(inferer, 0.0)

    def fresh(self, now: float) -> list[EnergyClaim]:
        return [c for c in self.claims.values() if now - c.timestamp <= self.config.max_age_s]

    def board(self, now: float) -> list[dict[str, Any]]:
        """Every known inferer's energy for the dashboard, freshest first."""
        rows = []
        for c in sorted(self.claims.values(), key=lambda c: -c.timestamp):
            row = c.as_dict()
            row["age_s"] = round(now - c.timestamp, 1)
            row["stale"] = now - c.timestamp > self.config.max_age_s
            row["trend_w_per_h"] = round(self.trend_w_per_s(c.inferer) * 3600.0, 1)
            rows.append(row)
        return rows


def _slope(points: deque[tuple[float, float]]) -> float:
    n = len(points)
    if n < 3:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mh = sum(h for _, h in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var <= 0:
        return 0.0
    return sum((t - mt) * (h - mh) for t, h in points) / var


@dataclass(frozen=True)
class Ranked:
    inferer: str
    score: float
    free_slots: int
    drain_risk: bool
    claim: EnergyClaim


@dataclass
class EnergyScheduler:
    book: EnergyBook
    config: SchedulerConfig = field(default_factory=SchedulerConfig)
    _assigned: dict[str, int] = field(default_factory=dict)  # sessions we routed, per inferer
    _sessions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # session -> route
    _admitted_at: dict[str, float] = field(default_factory=dict)  # session -> when
    # Sessions of ours that ended lately: (admitted at, released at, route).
    _closed: deque[tuple[float, float, tuple[str, ...]]] = field(default_factory=deque)

    def reported(self, claim: EnergyClaim) -> int:
        """The claim's open sessions, less ours that were open when it was signed and
        have closed since (until the inferer's next report stops counting them)."""
        gone = sum(1 for opened, closed, hops in self._closed
                   if claim.inferer in hops and opened <= claim.timestamp < closed)
        return max(0, claim.sessions - gone)

    def slots(self, claim: EnergyClaim) -> int:
        """Sessions this inferer may still take."""
        limit = min(claim.capacity, self.config.users_per_inferer)
        return max(0, limit - max(self.reported(claim), self._assigned.get(claim.inferer, 0)))

    def drain_risk(self, claim: EnergyClaim) -> bool:
        cfg = self.config
        forecast = claim.headroom_w + self.book.trend_w_per_s(claim.inferer) * cfg.horizon_s
        battery_weak = claim.battery_soc is None or claim.battery_soc < cfg.low_soc
        return forecast <= 0.0 and battery_weak

    def score(self, claim: EnergyClaim, now: float) -> float:
        cfg = self.config
        cap = 2.0 * cfg.ref_power_w
        headroom = min(max(claim.headroom_w, 0.0), cap) / cap
        limit = max(1, min(claim.capacity, cfg.users_per_inferer))
        load = max(self.reported(claim), self._assigned.get(claim.inferer, 0)) / limit
        return (
            cfg.w_headroom * headroom
            + cfg.w_battery * (claim.battery_soc or 0.0)
            + cfg.w_sun * sun_left(energy_time(claim, now), claim.utc_offset_h)
            - cfg.w_load * min(load, 1.0)
            - cfg.w_drain * (1.0 if self.drain_risk(claim) else 0.0)
        )

    def rank(self, now: float, candidates: Iterable[str] | None = None) -> list[Ranked]:
        """Usable inferers with a free slot, best first (ties: address, deterministic)."""
        wanted = None if candidates is None else set(candidates)
        out = []
        for claim in self.book.fresh(now):
            if wanted is not None and claim.inferer not in wanted:
                continue
            if claim.state is not InfererState.ONLINE:
                continue
            free = self.slots(claim)
            if free <= 0:
                continue
            risk = self.drain_risk(claim)
            out.append(Ranked(claim.inferer, self.score(claim, now), free, risk, claim))
        out.sort(key=lambda r: (-r.score, r.inferer))
        return out

    def capacity(self, now: float) -> int:
        """Free session slots over every usable inferer (whole-model view)."""
        return sum(r.free_slots for r in self.rank(now))

    def admit(self, session: str, route: Iterable[str], now: float) -> None:
        """Reserve one slot on every inferer of ``route`` for ``session``."""
        hops = tuple(route)
        if not hops:
            raise AtCapacityError("no online inferer can serve this model right now; retry later")
        if session in self._sessions:
            raise ConfigError(f"session {session!r} is already admitted")
        for inferer in hops:
            claim = self.book.claims.get(inferer)
            if claim is None or now - claim.timestamp > self.config.max_age_s:
                raise AtCapacityError(f"inferer {inferer} has no fresh energy claim; plan again")
            if claim.state is not InfererState.ONLINE or self.slots(claim) <= 0:
                raise AtCapacityError(
                    f"inferer {inferer} is full ({self.config.users_per_inferer} users per "
                    "inferer) or not online; plan again or retry later"
                )
        for inferer in hops:
            self._assigned[inferer] = self._assigned.get(inferer, 0) + 1
        self._sessions[session] = hops
        self._admitted_at[session] = now

    def release(self, session: str, now: float | None = None) -> tuple[str, ...]:
        """Free the slots of a finished (or failed) session; returns its route. With
        ``now`` (the claims' clock), ``reported`` no longer counts it in claims signed
        while it was open (the inferer's next report will not)."""
        hops = self._sessions.pop(session, ())
        opened = self._admitted_at.pop(session, None)
        if now is not None and opened is not None and hops:
            self._closed.append((opened, now, hops))
            while self._closed and self._closed[0][1] < now - self.config.max_age_s:
                self._closed.popleft()  # every claim it could matter for is stale by now
        for inferer in hops:
            left = self._assigned.get(inferer, 0) - 1
            if left > 0:
                self._assigned[inferer] = left
            else:
                self._assigned.pop(inferer, None)
        return hops

    def assigned(self, inferer: str) -> int:
        """Sessions this scheduler routed through ``inferer`` that are still open."""
        return self._assigned.get(inferer, 0)

    def sessions_on(self, inferer: str) -> list[str]:
        return [s for s, hops in self._sessions.items() if inferer in hops]

    @property
    def active(self) -> int:
        return len(self._sessions)


def planner_penalty(
    scheduler: EnergyScheduler,
    now: Callable[[], float],
    *,
    ms_per_point: float = 40.0,  # extra planned latency per point of score below the best
    unknown_ms: float = 150.0,  # no fresh verified claim, not online, or full
) -> Callable[[Any], float]:
    """A ``penalty_ms`` for ``node.referee.planner.RoutePlanner``: records (anything with
    an ``address``) of inferers with less energy cost more milliseconds per hop, so the
    latency planner prefers headroom without a second planner."""
    cfg = scheduler.config
    best = cfg.w_headroom + cfg.w_battery + cfg.w_sun

    def penalty(record: Any) -> float:
        t = now()
        claim = scheduler.book.claims.get(getattr(record, "address", ""))
        if (
            claim is None
            or t - claim.timestamp > cfg.max_age_s
            or claim.state is not InfererState.ONLINE
            or scheduler.slots(claim) <= 0
        ):
            return unknown_ms
        return max(0.0, best - scheduler.score(claim, t)) * ms_per_point

    return penalty


def greedy_chain(ranked: list[Ranked], num_blocks: int) -> list[str] | None:
    """A chain of spans covering ``[0, num_blocks)`` from ``ranked`` (best first): at each
    block, the best-ranked inferer whose span starts at or before it and reaches furthest
    among those tied on score. A stand-in for the swarm's planner; ``None`` if the
    blocks cannot be covered."""
    route: list[str] = []
    pos = 0
    while pos < num_blocks:
        best: Ranked | None = None
        for r in ranked:
            span = r.claim.span or (0, num_blocks)
            if span[0] <= pos < span[1] and (best is None or r.score > best.score + 1e-9):
                best = r
        if best is None:
            return None
        route.append(best.inferer)
        pos = (best.claim.span or (0, num_blocks))[1]
    return route


__all__ = [
    "AtCapacityError",
    "EnergyBook",
    "EnergyClaim",
    "EnergyScheduler",
    "Ranked",
    "SchedulerConfig",
    "energy_time",
    "greedy_chain",
    "planner_penalty",
    "sun_left",
]
