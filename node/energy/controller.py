"""``EnergyController``: decides when an inferer loads, serves, drains and unloads.

A pure state machine (no I/O, no clock of its own): the runner (or the simulation)
feeds it one ``EnergyReading`` per poll with ``observe(now, reading)`` and reports the
end of loading/unloading with ``loaded``/``unloaded``. Rules:

- **Rolling average**: decisions use the mean headroom over the last ``window_s``
  seconds (30-60 s recommended), so a cloud dip shorter than the window barely moves it.
- **Hysteresis**: start serving (``load``) when the average is at least ``upper_w``;
  stop (``drain``) only when it falls below ``lower_w`` (< ``upper_w``) and the battery
  cannot carry the node.
- **Dwell**: two load/drain decisions are never closer than ``dwell_s`` seconds
  (the only exception is the fail-safe below). Anti-chatter backoff: when a node is
  drained less than two dwell times after it was loaded, the dwell doubles (up to
  ``max_dwell_s``); a serving period longer than that halves it again.
- **Battery reserve**: below ``lower_w`` the node keeps serving from its battery at
  reduced capacity (``battery_capacity_fraction`` of its sessions) while the state of
  charge stays above ``reserve_soc``; an offline node loads on battery alone only from
  ``battery_start_soc`` (> ``reserve_soc``: hysteresis on the state of charge too).
- **Fail safe**: a failed read counts as zero headroom; no good reading for
  ``stale_after_s`` seconds (a dead or frozen adapter) means unknown battery and no
  headroom, and the node drains at once, dwell or not. Logged once, not per poll.
  A battery at ``critical_soc`` (nearly empty, e.g. drained by the house) while the sun
  does not cover the node also drains at once: the grid is never the fallback.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from node.core.errors import ConfigError
from node.energy.reading import EnergyReading
from node.energy.state import InfererState

log = logging.getLogger(__name__)

Action = Literal["load", "drain"]


@dataclass(frozen=True)
class ControllerConfig:
    power_w: float = 300.0  # draw at full load (all sessions busy)
    idle_w: float = 120.0  # draw with the model loaded and no session
    max_sessions: int = 8  # concurrent sessions at full capacity
    window_s: float = 45.0  # rolling-average window of the headroom
    upper_w: float | None = None  # load above this mean headroom; default 1.3 × power_w
    lower_w: float | None = None  # drain below this (if the battery cannot carry); default power_w
    dwell_s: float = 600.0  # minimum time between two load/drain decisions
    max_dwell_s: float = 1800.0  # anti-chatter backoff cap (see EnergyController.dwell_s)
    reserve_soc: float = 0.20  # serve on battery down to this state of charge
    critical_soc: float = 0.08  # below this and short of sun: drain at once (set above the BMS floor)
    battery_start_soc: float = 0.50  # load on battery alone only from this state of charge
    battery_capacity_fraction: float = 0.5  # share of max_sessions served on battery
    stale_after_s: float = 30.0  # no good reading for this long = fail safe

    def __post_init__(self) -> None:
        if self.power_w <= 0 or not 0 <= self.idle_w <= self.power_w:
            raise ConfigError(f"need 0 <= idle_w ({self.idle_w}) <= power_w ({self.power_w}), power_w > 0")
        if self.max_sessions < 1:
            raise ConfigError(f"max_sessions must be >= 1, got {self.max_sessions}")
        if not 1.0 <= self.window_s <= 3600.0:
            raise ConfigError(f"window_s must be within 1..3600 s (30-60 recommended), got {self.window_s}")
        if self.upper <= self.lower:
            raise ConfigError(
                f"upper threshold ({self.upper} W) must be above the lower one ({self.lower} W): "
                "that gap is the hysteresis"
            )
        if self.dwell_s < 0 or self.stale_after_s <= 0 or self.max_dwell_s < self.dwell_s:
            raise ConfigError("need dwell_s >= 0, max_dwell_s >= dwell_s and stale_after_s > 0")
        if not 0.0 <= self.critical_soc < self.reserve_soc < self.battery_start_soc <= 1.0:
            raise ConfigError(
                f"need 0 <= critical_soc ({self.critical_soc}) < reserve_soc ({self.reserve_soc}) "
                f"< battery_start_soc ({self.battery_start_soc}) <= 1"
            )
        if not 0.0 < self.battery_capacity_fraction <= 1.0:
            raise ConfigError("battery_capacity_fraction must be in (0, 1]")

    @property
    def upper(self) -> float:
        return self.upper_w if self.upper_w is not None else 1.3 * self.power_w

    @property
    def lower(self) -> float:
        return self.lower_w if self.lower_w is not None else self.power_w

    def draw_w(self, state: InfererState, sessions: int) -> float:
        """Estimated draw of the machine: nothing unloaded, full power while loading,
        idle plus a share per busy session when loaded."""
        if state is InfererState.LOADING:
            return self.power_w
        if not state.loaded:
            return 0.0
        busy = min(1.0, max(0, sessions) / self.max_sessions)
        return self.idle_w + (self.power_w - self.idle_w) * busy


@dataclass(frozen=True)
class Decision:
    state: InfererState
    action: Action | None  # what the runner must start now
    capacity: int  # sessions the node may hold now (0 unless online)
    headroom_avg_w: float
    battery_soc: float | None
    on_battery: bool  # part of the draw may come from the battery
    data_ok: bool  # False while the adapter fails or is stale
    reason: str = ""


@dataclass(frozen=True)
class Transition:
    t: float
    old: InfererState
    new: InfererState
    reason: str


class RollingMean:
    """Mean of the samples of the last ``window_s`` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._sum = 0.0

    def add(self, t: float, value: float) -> None:
        self._samples.append((t, value))
        self._sum += value
        self._evict(t)

    def _evict(self, now: float) -> None:
        while self._samples and self._samples[0][0] <= now - self.window_s:
            self._sum -= self._samples.popleft()[1]

    def mean(self) -> float:
        return self._sum / len(self._samples) if self._samples else 0.0

    def __len__(self) -> int:
        return len(self._samples)


@dataclass
class _Counters:
    decisions: int = 0
    fail_safe_drains: int = 0
    read_failures: int = 0


class EnergyController:
    def __init__(
        self,
        config: ControllerConfig | None = None,
        now: float = 0.0,
        *,
        name: str = "",
        enforce: bool = True,  # False: load at once, never unload (demo --once, benchmarks)
    ) -> None:
        self.config = config or ControllerConfig()
        self.name = name
        self.enforce = enforce
        self.state = InfererState.JOINING
        self.state_since = now
        self.started = now
        self.last_decision_t = -math.inf
        self.last_load_t = -math.inf
        self.dwell_s = self.config.dwell_s  # current dwell, grows with chatter
        self.window = RollingMean(self.config.window_s)
        self.last_good: EnergyReading | None = None
        self.data_ok = True
        self.transitions: deque[Transition] = deque(maxlen=1000)
        self.counters = _Counters()
        self.last: Decision | None = None

    # --- inputs -----------------------------------------------------------------------
    def observe(self, now: float, reading: EnergyReading | None) -> Decision:
        """One poll: update the average, maybe start a load or a drain."""
        cfg = self.config
        fresh = reading is not None and now - reading.timestamp <= cfg.stale_after_s
        if fresh:
            assert reading is not None
            self.last_good = reading
            self.window.add(now, reading.headroom_w)
        else:
            self.counters.read_failures += 1
            self.window.add(now, 0.0)  # fail safe: a failed read is no headroom
        stale = self.last_good is None or now - self.last_good.timestamp > cfg.stale_after_s
        self._log_data(fresh, stale, now, reading)
        avg = self.window.mean()
        soc = None if stale or self.last_good is None else self.last_good.battery_soc
        battery_ok = soc is not None and soc > cfg.reserve_soc
        dwell_ok = now - self.last_decision_t >= self.dwell_s
        warmed = now - self.started >= cfg.window_s  # a full window before the first load
        action: Action | None = None
        reason = ""
        s = self.state
        if not self.enforce:
            if s in (InfererState.JOINING, InfererState.OFFLINE):
                action, reason = "load", "energy not enforced"
                self._go(now, InfererState.LOADING, reason)
        elif s in (InfererState.JOINING, InfererState.OFFLINE):
            if not stale and dwell_ok and warmed:
                if avg >= cfg.upper:
                    action, reason = "load", f"headroom {avg:.0f} W >= {cfg.upper:.0f} W"
                elif soc is not None and soc >= cfg.battery_start_soc:
                    action, reason = "load", f"battery {soc:.0%} >= {cfg.battery_start_soc:.0%}"
            if action:
                self.last_load_t = now
                self._go(now, InfererState.LOADING, reason, decision=True)
        elif s is InfererState.ONLINE:
            if stale:
                action, reason = "drain", "fail safe: no energy data"
                self.counters.fail_safe_drains += 1
            elif soc is not None and soc <= cfg.critical_soc and avg < cfg.lower:
                action, reason = "drain", f"fail safe: battery {soc:.0%} <= {cfg.critical_soc:.0%}, no sun"
                self.counters.fail_safe_drains += 1
            elif avg < cfg.lower and not battery_ok and dwell_ok:
                soc_txt = "no battery" if soc is None else f"battery {soc:.0%} <= {cfg.reserve_soc:.0%}"
                action, reason = "drain", f"headroom {avg:.0f} W < {cfg.lower:.0f} W, {soc_txt}"
            if action:
                self._backoff(now)
                self._go(now, InfererState.DRAINING, reason, decision=True)
        capacity = 0
        if self.state is InfererState.ONLINE:
            capacity = self._capacity(avg, battery_ok) if self.enforce else cfg.max_sessions
        self.last = Decision(
            state=self.state,
            action=action,
            capacity=capacity,
            headroom_avg_w=avg,
            battery_soc=soc,
            on_battery=self.state.loaded and avg < cfg.power_w and battery_ok,
            data_ok=not stale and fresh,
            reason=reason,
        )
        return self.last

    def loaded(self, now: float) -> None:
        """The model finished loading."""
        if self.state is InfererState.LOADING:
            self._go(now, InfererState.ONLINE, "model loaded")

    def load_failed(self, now: float, why: str) -> None:
        if self.state is InfererState.LOADING:
            self._go(now, InfererState.OFFLINE, f"load failed: {why}")

    def unloaded(self, now: float) -> None:
        """Sessions finished or handed over, model unloaded and memory freed."""
        if self.state is InfererState.DRAINING:
            self._go(now, InfererState.OFFLINE, "model unloaded")

    # --- internals --------------------------------------------------------------------
    def _capacity(self, avg: float, battery_ok: bool) -> int:
        cfg = self.config
        if avg >= cfg.power_w:
            return cfg.max_sessions
        per_session = (cfg.power_w - cfg.idle_w) / cfg.max_sessions
        fit = math.floor((avg - cfg.idle_w) / per_session) if per_session > 0 else cfg.max_sessions
        if battery_ok:
            fit = max(fit, math.floor(cfg.battery_capacity_fraction * cfg.max_sessions))
        return max(1, min(cfg.max_sessions, fit))

    def _backoff(self, now: float) -> None:
        """Double the dwell after a short serving period, halve it after a long one."""
        cfg = self.config
        if now - self.last_load_t < 2 * self.dwell_s:
            self.dwell_s = min(cfg.max_dwell_s, max(self.dwell_s * 2, 1.0))
        else:
            self.dwell_s = max(cfg.dwell_s, self.dwell_s / 2)

    def _go(self, now: float, new: InfererState, reason: str, *, decision: bool = False) -> None:
        old = self.state
        self.state, self.state_since = new, now
        self.transitions.append(Transition(now, old, new, reason))
        if decision:
            self.last_decision_t = now
            self.counters.decisions += 1
        log.info("energy%s: %s -> %s (%s)", f" {self.name}" if self.name else "", old.label, new.label, reason)

    def _log_data(self, fresh: bool, stale: bool, now: float, reading: EnergyReading | None) -> None:
        """Log once when the data goes stale (not per failed read) and once when it is back."""
        ok = not stale
        if ok == self.data_ok:
            if not fresh:
                log.debug("energy %s: read failed (%d so far)", self.name, self.counters.read_failures)
            return
        self.data_ok = ok
        who = f" {self.name}" if self.name else ""
        if not ok:
            why = "no reading" if reading is None else f"last reading {now - reading.timestamp:.0f} s old"
            log.warning(
                "energy%s: no energy data for %.0f s (%s); counting it as no headroom (fail safe)",
                who, self.config.stale_after_s, why,
            )
        else:
            log.info("energy%s: energy data back (%d failed reads so far)", who, self.counters.read_failures)


__all__ = ["Action", "ControllerConfig", "Decision", "EnergyController", "RollingMean", "Transition"]
