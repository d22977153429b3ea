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
from node.energy.controller import EnergyController
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
    sc = scenario
    cfg = sc.controller_config()
    t_start = sc.t0 - sc.warmup_hours * 3600.0
    t_end = sc.t0 + sc.hours * 3600.0
    clock = ManualClock(t_start)
    inferers: list[SimInferer] = []
    for i in range(sc.inferers):
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
        inferers.append(
            SimInferer(name, zone, sc.span_of(i), adapter, EnergyController(cfg, t_start, name=name))
        )
    book = EnergyBook(sc.scheduler)
    scheduler = EnergyScheduler(book, sc.scheduler)
    queue = AdmissionQueue(max_wait_s=30.0)
    users = UserLoad(sc.mean_users, sc.session_s, sc.zones, sc.seed)
    ends: list[tuple[float, str]] = []  # heap of (end time, session)
    pending: dict[str, float] = {}  # queued session -> duration
    counted: set[str] = set()  # sessions that arrived inside the measured window
    ids = itertools.count()
    n = {"served": 0, "refused": 0, "dropped": 0, "handed_over": 0, "arrived": 0}
    covered_s = 0.0
    measured_s = 0.0
    session_s = pv_session_s = 0.0  # session-seconds, and those on inferers in surplus
    energy0: dict[str, tuple[float, float, float]] = {}
    decisions0: dict[str, int] = {}
    times_h: list[float] = []
    swarm: dict[str, list[float]] = {"sessions": [], "queue": [], "online": []}
    for z in sc.zones:
        swarm[f"sessions_utc{z:+g}"] = []
    next_record = sc.t0

    def publish(inf: SimInferer, t: float, capacity: int) -> None:
        r = inf.reading
        if r is None:
            return
        book.update(
            EnergyClaim(
                inferer=inf.name,
                state=inf.controller.state,
                timestamp=t,
                headroom_w=max(0.0, r.headroom_w - inf.draw_w),  # as signed: beyond own draw
                available_w=r.available_w,
                battery_soc=r.battery_soc,
                nonce=int(t),
                capacity=capacity,
                sessions=scheduler.assigned(inf.name),
                utc_offset_h=inf.zone,
                span=inf.span,
            )
        )
        inf.last_claim_t = t

    def try_admit(session: str, duration: float, t: float, exclude: str | None = None) -> bool:
        ranked = [r for r in scheduler.rank(t) if r.inferer != exclude]
        route = greedy_chain(ranked, sc.num_blocks)
        if route is None:
            return False
        try:
            scheduler.admit(session, route, t)
        except AtCapacityError:
            return False
        heapq.heappush(ends, (t + duration, session))
        return True

    t = t_start
    steps = round((t_end - t_start) / sc.tick_s)
    for step in range(steps + 1):
        t = t_start + step * sc.tick_s
        clock.t = t
        measuring = t >= sc.t0
        if measuring and not energy0:
            for inf in inferers:
                home = inf.adapter.home
                energy0[inf.name] = (home.inferer_wh, home.inferer_battery_wh, home.inferer_grid_wh)
                decisions0[inf.name] = inf.controller.counters.decisions
        # 1. energy: read, decide, act
        for inf in inferers:
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
                open_sessions = scheduler.sessions_on(inf.name)
                assert inf.drain_deadline is not None
                if not open_sessions or t >= inf.drain_deadline:
                    for s in open_sessions:  # hand over: the client replays on a new route
                        scheduler.release(s)
                        left = next((e for e, sid in ends if sid == s), t) - t
                        ends[:] = [(e, sid) for e, sid in ends if sid != s]
                        heapq.heapify(ends)
                        if try_admit(s, max(left, sc.tick_s), t, exclude=inf.name):
                            n["handed_over"] += measuring
                        else:
                            n["dropped"] += measuring
                    ctl.unloaded(t)
                    inf.drain_deadline = None
            capacity = ctl.last.capacity if ctl.last is not None and ctl.state is InfererState.ONLINE else 0
            if ctl.state is not before or t - inf.last_claim_t >= sc.claim_period_s:
                publish(inf, t, capacity)
        # 2. sessions that ended
        while ends and ends[0][0] <= t:
            _, s = heapq.heappop(ends)
            scheduler.release(s)
        # 3. new sessions, then the queue
        for duration in users.arrivals(t, sc.tick_s):
            s = f"s{next(ids)}"
            if measuring:
                n["arrived"] += 1
                counted.add(s)
            if try_admit(s, duration, t):
                n["served"] += s in counted
                continue
            try:
                queue.push(s, t)
                pending[s] = duration
            except AtCapacityError:
                n["refused"] += s in counted
        def admit_pending(s: str, t: float = t) -> bool:
            return try_admit(s, pending[s], t)

        admitted, refused = queue.pump(t, admit_pending)
        for s in admitted:
            pending.pop(s, None)
            n["served"] += s in counted
        for s in refused:
            pending.pop(s, None)
            n["refused"] += s in counted
        # 4. draws for the next tick, coverage, records
        online = 0
        covered = [0] * sc.num_blocks
        for inf in inferers:
            state = inf.controller.state
            busy = scheduler.assigned(inf.name)
            inf.draw_w = cfg.draw_w(state, busy)
            if measuring and busy:
                session_s += busy * sc.tick_s
                if inf.reading is not None and inf.reading.headroom_w >= inf.draw_w:
                    pv_session_s += busy * sc.tick_s
            if state is InfererState.ONLINE:
                online += 1
                for b in range(*inf.span):
                    covered[b] = 1
        if measuring and step < steps:
            measured_s += sc.tick_s
            covered_s += sc.tick_s * all(covered)
        if measuring and step < steps and t >= next_record:
            next_record += sc.record_s
            times_h.append((t - sc.t0) / 3600.0)
            swarm["sessions"].append(scheduler.active)
            swarm["queue"].append(len(queue))
            swarm["online"].append(online)
            for z in sc.zones:
                swarm[f"sessions_utc{z:+g}"].append(
                    sum(scheduler.assigned(i.name) for i in inferers if i.zone == z)
                )
            for inf in inferers:
                r = inf.reading
                rec = inf.series
                for key, value in (
                    ("headroom_w", r.headroom_w if r else 0.0),
                    ("pv_w", r.available_w if r else 0.0),
                    ("headroom_avg_w", inf.controller.last.headroom_avg_w if inf.controller.last else 0.0),
                    ("state", float(inf.controller.state)),
                    ("sessions", float(scheduler.assigned(inf.name))),
                    ("draw_w", inf.draw_w),
                    ("soc", r.battery_soc if r and r.battery_soc is not None else float("nan")),
                ):
                    rec.setdefault(key, []).append(value)
    days = sc.hours / 24.0
    per: list[dict[str, Any]] = []
    tot_grid = tot_batt = tot_inferer = 0.0
    decisions = 0
    for inf in inferers:
        home = inf.adapter.home
        e0 = energy0.get(inf.name, (0.0, 0.0, 0.0))
        used, batt, grid = (home.inferer_wh - e0[0], home.inferer_battery_wh - e0[1], home.inferer_grid_wh - e0[2])
        d = inf.controller.counters.decisions - decisions0.get(inf.name, 0)
        tot_grid, tot_batt, tot_inferer, decisions = tot_grid + grid, tot_batt + batt, tot_inferer + used, decisions + d
        states = inf.series.get("state", [])
        per.append(
            {
                "name": inf.name,
                "utc_offset_h": inf.zone,
                "span": list(inf.span),
                "transitions": d,
                "online_hours": round(sum(1 for s in states if s == InfererState.ONLINE) * sc.record_s / 3600.0, 2),
                "energy_wh": round(used, 1),
                "battery_wh_used": round(batt, 1),
                "grid_wh": round(grid, 3),
                "final_soc": None if home.soc is None else round(home.soc, 3),
            }
        )
    summary = {
        "coverage": round(covered_s / measured_s, 4) if measured_s else 0.0,
        "transitions_per_inferer_day": round(decisions / sc.inferers / days, 3),
        "served_outside_headroom_wh": round(tot_grid, 3),
        "battery_wh_used": round(tot_batt, 1),
        "requests_served": n["served"],
        "requests_refused": n["refused"],
        "requests_dropped": n["dropped"],
        "requests_handed_over": n["handed_over"],
        "requests_arrived": n["arrived"],
        "requests_waiting_at_end": sum(1 for s in pending if s in counted),
        "inferer_energy_wh": round(tot_inferer, 1),
        "renewable_share": round(1.0 - tot_grid / tot_inferer, 6) if tot_inferer else 1.0,
        "sessions_in_sun_share": round(pv_session_s / session_s, 4) if session_s else 0.0,
        "min_online": min(swarm["online"]) if swarm["online"] else 0,
        "mean_online": round(sum(swarm["online"]) / len(swarm["online"]), 3) if swarm["online"] else 0.0,
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
    return SimResult(sc, summary, times_h, inferers, swarm)
