"""The controller's rules: rolling average, hysteresis, dwell, battery reserve, fail safe."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.core.errors import ConfigError
from node.crypto import eip712
from node.energy import ControllerConfig, EnergyController, EnergyReading, InfererState
from node.energy.controller import RollingMean

TICK = 5.0
CFG = ControllerConfig(power_w=300, idle_w=120, window_s=45, dwell_s=600, max_dwell_s=600)


def reading(t: float, headroom: float, soc: float | None = None) -> EnergyReading:
    return EnergyReading(timestamp=t, source="test", available_w=max(0.0, headroom),
                         headroom_w=headroom, battery_soc=soc)


class Loop:
    """Drives a controller the way the runner does: loading and draining take one tick."""

    def __init__(self, config: ControllerConfig = CFG) -> None:
        self.c = EnergyController(config, 0.0)
        self.t = 0.0
        self.decisions: list[tuple[float, str]] = []

    def step(self, r: EnergyReading | None) -> None:
        d = self.c.observe(self.t, r)
        if d.action:
            self.decisions.append((self.t, d.action))
        if self.c.state is InfererState.LOADING and d.action is None:
            self.c.loaded(self.t)
        if self.c.state is InfererState.DRAINING and d.action is None:
            self.c.unloaded(self.t)
        self.t += TICK

    def run(self, headrooms: list[float], soc: float | None = None) -> None:
        for h in headrooms:
            self.step(reading(self.t, h, soc))


def test_states_match_the_eip712_codes() -> None:
    assert {s.name: int(s) for s in InfererState} == {s.name: int(s) for s in eip712.InfererState}


def test_loads_above_upper_and_drains_below_lower() -> None:
    loop = Loop()
    loop.run([2000.0] * 20)
    assert loop.c.state is InfererState.ONLINE
    assert loop.decisions == [(45.0, "load")]  # only after a full window
    loop.run([350.0] * 200)  # inside the hysteresis band: stays online
    assert loop.c.state is InfererState.ONLINE
    loop.run([100.0] * 200)
    assert [a for _, a in loop.decisions] == ["load", "drain"]
    assert loop.c.state is InfererState.OFFLINE
    loop.run([350.0] * 200)  # band again: stays offline (hysteresis)
    assert loop.c.state is InfererState.OFFLINE


def test_short_cloud_dip_does_not_unload() -> None:
    loop = Loop()
    loop.run([1500.0] * 200)  # online, well past the dwell time
    assert loop.c.state is InfererState.ONLINE
    loop.run([0.0] * 4)  # a 20 s dip to nothing, shorter than the 45 s window
    loop.run([1500.0] * 20)
    assert loop.c.state is InfererState.ONLINE
    assert [a for _, a in loop.decisions] == ["load"]
    loop.run([0.0] * 12)  # a dip longer than the window does unload
    assert loop.decisions[-1][1] == "drain"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(st.floats(-500, 3000), min_size=4, max_size=40),
    noise=st.lists(st.floats(-1500, 1500), min_size=50, max_size=400),
    dwell=st.sampled_from([60.0, 300.0, 600.0]),
    window=st.sampled_from([30.0, 45.0, 60.0]),
)
def test_never_flips_faster_than_the_dwell_time(base, noise, dwell, window) -> None:
    """On any noisy trace (fresh data, no battery) two load/drain decisions are at least
    ``dwell`` apart, and every decision agrees with the average and the thresholds."""
    cfg = ControllerConfig(power_w=300, idle_w=120, window_s=window, dwell_s=dwell, max_dwell_s=4 * dwell)
    loop = Loop(cfg)
    n = len(noise) * 3
    for i in range(n):
        level = base[(i * len(base)) // n]  # a slow trend through the base levels
        loop.step(reading(loop.t, level + noise[i % len(noise)]))
        last = loop.c.last
        assert last is not None
        if last.action == "load":
            assert last.headroom_avg_w >= cfg.upper
        if last.action == "drain":
            assert last.headroom_avg_w < cfg.lower
    times = [t for t, _ in loop.decisions]
    assert all(b - a >= dwell for a, b in zip(times, times[1:], strict=False))
    kinds = [a for _, a in loop.decisions]
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))  # load/drain alternate


def test_chatter_backs_off_the_dwell() -> None:
    cfg = ControllerConfig(power_w=300, idle_w=120, window_s=30, dwell_s=300, max_dwell_s=1200)
    loop = Loop(cfg)
    pattern = [1000.0] * 70 + [0.0] * 70  # 350 s on, 350 s off: chatter
    for _ in range(8):
        loop.run(pattern)
    times = [t for t, _ in loop.decisions]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert loop.c.dwell_s == 1200.0
    assert max(gaps) > 600.0  # backed off beyond the base dwell


def test_battery_carries_the_node_at_reduced_capacity_down_to_the_reserve() -> None:
    loop = Loop()
    loop.run([2000.0] * 20, soc=0.9)
    assert loop.c.state is InfererState.ONLINE and loop.c.last.capacity == 8
    loop.run([-200.0] * 300, soc=0.6)  # sunset: serving from the battery
    assert loop.c.state is InfererState.ONLINE
    assert loop.c.last.capacity == 4 and loop.c.last.on_battery
    loop.run([-200.0] * 10, soc=0.2)  # at the reserve: drain
    assert loop.c.state is InfererState.OFFLINE
    loop.run([-200.0] * 300, soc=0.45)  # below battery_start_soc: stays offline
    assert loop.c.state is InfererState.OFFLINE
    loop.run([-200.0] * 20, soc=0.55)  # charged (e.g. from elsewhere): loads on battery
    assert loop.c.state is InfererState.ONLINE


def test_partial_sun_gives_partial_capacity() -> None:
    loop = Loop()
    loop.run([2000.0] * 20)
    # Below the lower threshold but still inside the dwell time: online on what the sun
    # gives, idle 120 W + 22.5 W per session: (232 - 120) / 22.5 → 4 sessions.
    loop.run([232.0] * 20)
    assert loop.c.state is InfererState.ONLINE and loop.c.last.capacity == 4


def test_dead_adapter_drives_the_node_offline_and_logs_once(caplog) -> None:
    loop = Loop()
    loop.run([2000.0] * 20, soc=0.9)
    assert loop.c.state is InfererState.ONLINE
    caplog.set_level(logging.INFO, logger="node.energy.controller")
    caplog.clear()
    for _ in range(40):  # 200 s of failed reads, right after loading (dwell not over)
        loop.step(None)
    assert loop.c.state is InfererState.OFFLINE
    assert loop.decisions[-1][1] == "drain"
    assert loop.c.counters.fail_safe_drains == 1
    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno == logging.WARNING]

    assert len(warnings()) == 1 and "no energy data" in warnings()[0].getMessage()
    for _ in range(40):  # still dead: never loads again, even with a full battery last seen
        loop.step(None)
    assert loop.c.state is InfererState.OFFLINE
    assert len(warnings()) == 1
    loop.run([2000.0] * 200, soc=0.9)
    assert loop.c.state is InfererState.ONLINE
    assert any("energy data back" in r.getMessage() for r in caplog.records)


def test_frozen_adapter_counts_as_stale() -> None:
    loop = Loop()
    loop.run([2000.0] * 20)
    frozen = reading(loop.t, 2000.0)
    for _ in range(20):  # the device keeps answering its old measurement
        loop.step(frozen)
    assert loop.c.state is InfererState.OFFLINE


def test_single_failed_read_counts_as_no_headroom_but_does_not_drain() -> None:
    loop = Loop()
    loop.run([2000.0] * 200)
    loop.step(None)
    assert loop.c.state is InfererState.ONLINE
    assert loop.c.last.headroom_avg_w < 2000.0  # the failed read weighed in as 0 W


def test_unenforced_controller_loads_at_once_and_never_drains() -> None:
    c = EnergyController(CFG, 0.0, enforce=False)
    d = c.observe(0.0, None)
    assert d.action == "load" and c.state is InfererState.LOADING
    c.loaded(1.0)
    for i in range(100):
        d = c.observe(2.0 + i * TICK, None)
        assert d.action is None and d.capacity == CFG.max_sessions
    assert c.state is InfererState.ONLINE


def test_rolling_mean_window() -> None:
    m = RollingMean(30.0)
    for t in range(0, 100, 5):
        m.add(float(t), float(t))
    assert len(m) == 6 and m.mean() == pytest.approx(sum(range(70, 100, 5)) / 6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"upper_w": 300, "lower_w": 300}, "hysteresis"),
        ({"window_s": 0}, "window_s"),
        ({"reserve_soc": 0.6, "battery_start_soc": 0.5}, "reserve_soc"),
        ({"critical_soc": 0.3}, "critical_soc"),
        ({"idle_w": 400}, "idle_w"),
        ({"max_dwell_s": 10}, "max_dwell_s"),
    ],
)
def test_bad_config_is_refused(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        ControllerConfig(**kwargs)


def test_nearly_empty_battery_drains_even_inside_the_dwell() -> None:
    loop = Loop()
    loop.run([2000.0] * 12, soc=0.3)  # loaded on sun
    assert loop.c.state is InfererState.ONLINE
    loop.run([-100.0] * 12, soc=0.07)  # the house emptied the battery, a minute later
    assert loop.c.state is InfererState.OFFLINE
    assert loop.decisions[1][0] - loop.decisions[0][0] < CFG.dwell_s
    assert loop.c.counters.fail_safe_drains == 1
