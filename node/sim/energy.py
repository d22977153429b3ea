"""``simulate(scenario)``: a swarm of inferers over accelerated real solar traces, run by
the real ``EnergyController`` (one per inferer, fed by a real ``TraceAdapter``) and the
real referee ``EnergyScheduler`` (ranking, admission, queue), with synthetic users.

Per tick (``tick_s``, default 5 s of simulated time, as fast as the CPU goes):
1. each inferer's adapter is read with the machine's draw over the last tick (this
   steps its home: panels, house, battery; grid energy the inferer drew is counted);
   its controller observes the reading; ``load``/``drain`` decisions start a load
   (``load_s``) or a drain (open sessions finish, or are handed over to another route
   after ``drain_timeout_s``, or dropped when none has room);
2. inferers publish an ``EnergyClaim`` (what their signed report + DHT record carry)
   every ``claim_period_s`` and at once on a state change; the scheduler sees only these;
3. finished sessions release their slots; new sessions are admitted on a route chosen
   from the scheduler's ranking, or queue, or are refused "at capacity";
4. coverage counts the time every block has at least one ``online`` inferer.
A warm-up (``warmup_hours``) runs first, unmeasured, so batteries and states settle.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from node.energy.adapters.trace import TraceAdapter
from node.energy.clock import ManualClock
from node.energy.controller import ControllerConfig, EnergyController
from node.energy.reading import EnergyReading
from node.energy.state import InfererState
from node.referee.energy import (
    AtCapacityError,
    EnergyBook,
    EnergyClaim,
    EnergyScheduler,
    greedy_chain,
)
from node.referee.energy_admission import AdmissionQueue
from node.sim.scenario import Scenario
from node.sim.users import UserLoad


@dataclass
class SimInferer:
    name: str
    zone: float
    span: tuple[int, int]
    adapter: TraceAdapter
    controller: EnergyController
    draw_w: float = 0.0
    ready_at: float | None = None  # end of the current load
    drain_deadline: float | None = None
    last_claim_t: float = -1e18
    reading: EnergyReading | None = None
    series: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class SimResult:
    scenario: Scenario
    summary: dict[str, Any]
    times_h: list[float]  # hours since t0 of each record
    inferers: list[SimInferer]
    swarm: dict[str, list[float]]  # active sessions, queue, online count per record


def _quiet_controllers() -> None:
    # Transitions are logged at INFO by the controller: hundreds in a simulation.
    logging.getLogger("node.energy.controller").setLevel(logging.WARNING)


def simulate(scenario: Scenario) -> SimResult:
    _quiet_controllers()
    run = _Run(scenario)
    sc = scenario
    steps = round((run.t_end - run.t_start) / sc.tick_s)
    for step in range(steps + 1):
        t = run.t_start + step * sc.tick_s
        run.clock.t = t
        measuring = t >= sc.t0
        if measuring and not run.energy0:
            run.start_measuring()
        run.energy_step(t, measuring)
        run.end_sessions(t)
        run.admit_arrivals(t, measuring)
        online, covered = run.draws_and_coverage(measuring)
        if measuring and step < steps:
            run.measured_s += sc.tick_s
            run.covered_s += sc.tick_s * all(covered)
            if t >= run.next_record:
                run.record(t, online)
    return SimResult(sc, run.summary(), run.times_h, run.inferers, run.swarm)


def _build_inferer(
    sc: Scenario, cfg: ControllerConfig, i: int, clock: ManualClock, t_start: float
) -> SimInferer:
    zone = sc.zone_of(i)
    adapter = TraceAdapter(
        site=sc.site,
        kwp=sc.kwp,
        utc_offset_h=zone,
        house_kwh_per_day=sc.house_kwh_per_day,
        battery_kwh=sc.battery_kwh,
        battery_kw=sc.battery_kw,
        initial_soc=sc.initial_soc,
        house_on_battery=sc.house_on_battery,
        noise=sc.noise,
        seed=sc.seed * 1000 + i,
        step_s=sc.tick_s,
        clock=clock,
    )
    name = f"inferer-{i:02d}"
    controller = EnergyController(cfg, t_start, name=name)
    return SimInferer(name, zone, sc.span_of(i), adapter, controller)


class _Run:
    """The state of one simulation; ``simulate`` calls its steps once per tick, in order."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.cfg = sc.controller_config()
        self.t_start = sc.t0 - sc.warmup_hours * 3600.0
        self.t_end = sc.t0 + sc.hours * 3600.0
        self.clock = ManualClock(self.t_start)
        self.inferers = [
            _build_inferer(sc, self.cfg, i, self.clock, self.t_start) for i in range(sc.inferers)
        ]
        self.book = EnergyBook(sc.scheduler)
        self.scheduler = EnergyScheduler(self.book, sc.scheduler)
        self.queue = AdmissionQueue(max_wait_s=30.0)
        self.users = UserLoad(sc.mean_users, sc.session_s, sc.zones, sc.seed)
        self.ends: list[tuple[float, str]] = []  # heap of (end time, session)
        self.pending: dict[str, float] = {}  # queued session -> duration
        self.counted: set[str] = set()  # sessions that arrived inside the measured window
        self.ids = itertools.count()
        self.n = {"served": 0, "refused": 0, "dropped": 0, "handed_over": 0, "arrived": 0}
        self.covered_s = 0.0
        self.measured_s = 0.0
        self.session_s = 0.0  # session-seconds
        self.pv_session_s = 0.0  # ... of them on inferers in surplus
        self.energy0: dict[str, tuple[float, float, float]] = {}
        self.decisions0: dict[str, int] = {}
        self.times_h: list[float] = []
        self.swarm: dict[str, list[float]] = {"sessions": [], "queue": [], "online": []}
        for z in sc.zones:
            self.swarm[f"sessions_utc{z:+g}"] = []
        self.next_record = sc.t0

    def start_measuring(self) -> None:
        """Snapshot the energy and decision counters at the end of the warm-up."""
        for inf in self.inferers:
            home = inf.adapter.home
            self.energy0[inf.name] = (home.inferer_wh, home.inferer_battery_wh, home.inferer_grid_wh)
            self.decisions0[inf.name] = inf.controller.counters.decisions

    def publish(self, inf: SimInferer, t: float, capacity: int) -> None:
        r = inf.reading
        if r is None:
            return
        self.book.update(
            EnergyClaim(
                inferer=inf.name,
                state=inf.controller.state,
                timestamp=t,
                headroom_w=max(0.0, r.headroom_w - inf.draw_w),  # as signed: beyond own draw
                available_w=r.available_w,
                battery_soc=r.battery_soc,
                nonce=int(t),
                capacity=capacity,
                sessions=self.scheduler.assigned(inf.name),
                utc_offset_h=inf.zone,
                span=inf.span,
            )
        )
        inf.last_claim_t = t

    def try_admit(self, session: str, duration: float, t: float, exclude: str | None = None) -> bool:
        ranked = [r for r in self.scheduler.rank(t) if r.inferer != exclude]
        route = greedy_chain(ranked, self.sc.num_blocks)
        if route is None:
            return False
        try:
            self.scheduler.admit(session, route, t)
        except AtCapacityError:
            return False
        heapq.heappush(self.ends, (t + duration, session))
        return True

    def energy_step(self, t: float, measuring: bool) -> None:
        """1. Each inferer reads its home, its controller decides, loads and drains progress."""
        sc = self.sc
        for inf in self.inferers:
            ctl = inf.controller
            before = ctl.state
            inf.reading = inf.adapter.read(inf.draw_w)
            decision = ctl.observe(t, inf.reading)
            if decision.action == "load":
                inf.ready_at = t + sc.load_s
            elif decision.action == "drain":
                inf.drain_deadline = t + sc.drain_timeout_s
            if ctl.state is InfererState.LOADING and inf.ready_at is not None and t >= inf.ready_at:
                ctl.loaded(t)
                inf.ready_at = None
            if ctl.state is InfererState.DRAINING:
                self._drain(inf, t, measuring)
            capacity = ctl.last.capacity if ctl.last is not None and ctl.state is InfererState.ONLINE else 0
            if ctl.state is not before or t - inf.last_claim_t >= sc.claim_period_s:
                self.publish(inf, t, capacity)

    def _drain(self, inf: SimInferer, t: float, measuring: bool) -> None:
        open_sessions = self.scheduler.sessions_on(inf.name)
        assert inf.drain_deadline is not None
        if open_sessions and t < inf.drain_deadline:
            return
        for s in open_sessions:  # hand over: the client replays on a new route
            self.scheduler.release(s)
            left = next((e for e, sid in self.ends if sid == s), t) - t
            self.ends[:] = [(e, sid) for e, sid in self.ends if sid != s]
            heapq.heapify(self.ends)
            if self.try_admit(s, max(left, self.sc.tick_s), t, exclude=inf.name):
                self.n["handed_over"] += measuring
            else:
                self.n["dropped"] += measuring
        inf.controller.unloaded(t)
        inf.drain_deadline = None

    def end_sessions(self, t: float) -> None:
        """2. Sessions that ended release their slots."""
        while self.ends and self.ends[0][0] <= t:
            _, s = heapq.heappop(self.ends)
            self.scheduler.release(s)

    def admit_arrivals(self, t: float, measuring: bool) -> None:
        """3. New sessions are admitted, queued or refused; then the queue is pumped."""
        n = self.n
        for duration in self.users.arrivals(t, self.sc.tick_s):
            s = f"s{next(self.ids)}"
            if measuring:
                n["arrived"] += 1
                self.counted.add(s)
            if self.try_admit(s, duration, t):
                n["served"] += s in self.counted
                continue
            try:
                self.queue.push(s, t)
                self.pending[s] = duration
            except AtCapacityError:
                n["refused"] += s in self.counted

        def admit_pending(s: str) -> bool:
            return self.try_admit(s, self.pending[s], t)

        admitted, refused = self.queue.pump(t, admit_pending)
        for s in admitted:
            self.pending.pop(s, None)
            n["served"] += s in self.counted
        for s in refused:
            self.pending.pop(s, None)
            n["refused"] += s in self.counted

    def draws_and_coverage(self, measuring: bool) -> tuple[int, list[int]]:
        """4. Each inferer's draw for the next tick; how many are online and which blocks are covered."""
        sc = self.sc
        online = 0
        covered = [0] * sc.num_blocks
        for inf in self.inferers:
            state = inf.controller.state
            busy = self.scheduler.assigned(inf.name)
            inf.draw_w = self.cfg.draw_w(state, busy)
            if measuring and busy:
                self.session_s += busy * sc.tick_s
                if inf.reading is not None and inf.reading.headroom_w >= inf.draw_w:
                    self.pv_session_s += busy * sc.tick_s
            if state is InfererState.ONLINE:
                online += 1
                for b in range(*inf.span):
                    covered[b] = 1
        return online, covered

    def record(self, t: float, online: int) -> None:
        """A sample of the swarm and of every inferer for the plot (every ``record_s``)."""
        sc = self.sc
        self.next_record += sc.record_s
        self.times_h.append((t - sc.t0) / 3600.0)
        self.swarm["sessions"].append(self.scheduler.active)
        self.swarm["queue"].append(len(self.queue))
        self.swarm["online"].append(online)
        for z in sc.zones:
            self.swarm[f"sessions_utc{z:+g}"].append(
                sum(self.scheduler.assigned(i.name) for i in self.inferers if i.zone == z)
            )
        for inf in self.inferers:
            r = inf.reading
            last = inf.controller.last
            for key, value in (
                ("headroom_w", r.headroom_w if r else 0.0),
                ("pv_w", r.available_w if r else 0.0),
                ("headroom_avg_w", last.headroom_avg_w if last else 0.0),
                ("state", float(inf.controller.state)),
                ("sessions", float(self.scheduler.assigned(inf.name))),
                ("draw_w", inf.draw_w),
                ("soc", r.battery_soc if r and r.battery_soc is not None else float("nan")),
            ):
                inf.series.setdefault(key, []).append(value)

    def _per_inferer(self, inf: SimInferer) -> dict[str, Any]:
        home = inf.adapter.home
        e0 = self.energy0.get(inf.name, (0.0, 0.0, 0.0))
        used, batt, grid = (home.inferer_wh - e0[0], home.inferer_battery_wh - e0[1], home.inferer_grid_wh - e0[2])
        states = inf.series.get("state", [])
        return {
            "name": inf.name,
            "utc_offset_h": inf.zone,
            "span": list(inf.span),
            "transitions": inf.controller.counters.decisions - self.decisions0.get(inf.name, 0),
            "online_hours": round(sum(1 for s in states if s == InfererState.ONLINE) * self.sc.record_s / 3600.0, 2),
            "energy_wh": round(used, 1),
            "battery_wh_used": round(batt, 1),
            "grid_wh": round(grid, 3),
            "final_soc": None if home.soc is None else round(home.soc, 3),
        }

    def summary(self) -> dict[str, Any]:
        sc, n, online = self.sc, self.n, self.swarm["online"]
        per = [self._per_inferer(inf) for inf in self.inferers]
        # the unrounded sums, as the per-inferer figures above round them
        tot_grid = tot_batt = tot_inferer = 0.0
        for inf in self.inferers:
            home = inf.adapter.home
            e0 = self.energy0.get(inf.name, (0.0, 0.0, 0.0))
            tot_inferer += home.inferer_wh - e0[0]
            tot_batt += home.inferer_battery_wh - e0[1]
            tot_grid += home.inferer_grid_wh - e0[2]
        decisions = sum(p["transitions"] for p in per)
        return {
            "coverage": round(self.covered_s / self.measured_s, 4) if self.measured_s else 0.0,
            "transitions_per_inferer_day": round(decisions / sc.inferers / (sc.hours / 24.0), 3),
            "served_outside_headroom_wh": round(tot_grid, 3),
            "battery_wh_used": round(tot_batt, 1),
            "requests_served": n["served"],
            "requests_refused": n["refused"],
            "requests_dropped": n["dropped"],
            "requests_handed_over": n["handed_over"],
            "requests_arrived": n["arrived"],
            "requests_waiting_at_end": sum(1 for s in self.pending if s in self.counted),
            "inferer_energy_wh": round(tot_inferer, 1),
            "renewable_share": round(1.0 - tot_grid / tot_inferer, 6) if tot_inferer else 1.0,
            "sessions_in_sun_share": round(self.pv_session_s / self.session_s, 4) if self.session_s else 0.0,
            "min_online": min(online) if online else 0,
            "mean_online": round(sum(online) / len(online), 3) if online else 0.0,
            "inferers": sc.inferers,
            "hours": sc.hours,
            "date": sc.date,
            "zones": list(sc.zones),
            "site": sc.site,
            "kwp": sc.kwp,
            "battery_kwh": sc.battery_kwh,
            "inferer_w": sc.inferer_w,
            "users": sc.mean_users,
            "seed": sc.seed,
            "per_inferer": per,
        }
