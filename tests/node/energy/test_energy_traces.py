"""Real TMY traces, the battery and the home's energy bookkeeping."""

from __future__ import annotations

import calendar

import pytest

from node.core.errors import ConfigError
from node.energy.adapters import TraceAdapter, make_adapter
from node.energy.adapters.trace import resolve_start
from node.energy.battery import Battery, BatterySpec
from node.energy.clock import ManualClock
from node.energy.site import HomeSite
from node.energy.traces import HouseLoad, SolarTrace, hour_of_year, load_site

EQUINOX = float(calendar.timegm((2026, 3, 20, 0, 0, 0)))
DAY = 86400.0


def energy_kwh(fn, start: float, step: float = 60.0) -> float:
    return sum(fn(start + i * step) for i in range(int(DAY / step))) * step / 3600.0 / 1000.0


def test_site_data_is_the_real_tmy3_file() -> None:
    site = load_site("greensboro")
    assert (site.latitude, site.longitude, site.utc_offset_h) == (36.1, -79.95, -5.0)
    assert len(site.pv_w_per_kwp) == 8760
    night = site.pv_w_per_kwp[79 * 24 + 2]  # 20 March, 02:00-03:00 local
    noon = site.pv_w_per_kwp[80 * 24 + 12]  # 21 March (clear in the TMY), 12:00-13:00
    assert night == 0.0 and 700.0 < noon < 1000.0
    with pytest.raises(ConfigError, match="unknown solar site"):
        load_site("atlantis")


def test_every_bundled_site_loads() -> None:
    for name in ("sand-point", "miami"):
        site = load_site(name)
        assert len(site.pv_w_per_kwp) == 8760 and max(site.pv_w_per_kwp) > 500


def test_noise_keeps_the_energy_of_the_hourly_data() -> None:
    noisy = SolarTrace("greensboro", 5.0, -5.0, noise=True, seed=3)
    clear = SolarTrace("greensboro", 5.0, -5.0, noise=False)
    e_noisy, e_clear = energy_kwh(noisy.pv_w, EQUINOX, 5.0), energy_kwh(clear.pv_w, EQUINOX, 5.0)
    assert 15.0 < e_clear < 40.0  # a 5 kWp array on an equinox day
    assert e_noisy == pytest.approx(e_clear, rel=0.03)
    # ...but it is noisier: sub-hour dips the hourly data cannot show
    diffs = [abs(noisy.pv_w(EQUINOX + 12 * 3600 + i * 5) - clear.pv_w(EQUINOX + 12 * 3600 + i * 5))
             for i in range(8 * 720)]
    assert max(diffs) > 500.0


def test_noise_is_seeded_and_random_access() -> None:
    a = SolarTrace("greensboro", 5.0, 1.0, seed=11)
    b = SolarTrace("greensboro", 5.0, 1.0, seed=11)
    c = SolarTrace("greensboro", 5.0, 1.0, seed=12)
    times = [EQUINOX + 9 * 3600 + i * 37 for i in range(500)]
    assert [a.pv_w(t) for t in times] == [b.pv_w(t) for t in reversed(times)][::-1]
    assert [a.pv_w(t) for t in times] != [c.pv_w(t) for t in times]


def test_time_zone_shift_moves_solar_noon() -> None:
    def peak_utc_hour(offset: float) -> float:
        tr = SolarTrace("greensboro", 5.0, offset, noise=False)
        # 21 March (clear all day in the TMY): local day starts at 00:00 local
        start = EQUINOX + DAY - offset * 3600
        best = max(range(0, int(DAY), 300), key=lambda s: tr.pv_w(start + s))
        return ((start + best - EQUINOX) / 3600.0) % 24

    # Greensboro's solar noon ≈ 12:20 local standard time
    assert peak_utc_hour(-5.0) == pytest.approx(17.3, abs=1.0)
    assert peak_utc_hour(1.0) == pytest.approx(11.3, abs=1.0)
    assert peak_utc_hour(8.0) == pytest.approx(4.3, abs=1.0)


def test_hour_of_year_folds_leap_day() -> None:
    feb29 = calendar.timegm((2028, 2, 29, 6, 0, 0))
    feb28 = calendar.timegm((2027, 2, 28, 6, 0, 0))
    mar1 = calendar.timegm((2028, 3, 1, 6, 0, 0))
    assert hour_of_year(feb29) == hour_of_year(feb28)
    assert hour_of_year(mar1) == hour_of_year(calendar.timegm((2027, 3, 1, 6, 0, 0)))


def test_house_load_matches_its_daily_energy() -> None:
    house = HouseLoad(8.0, 1.0, spikes_per_hour=0.0)
    assert energy_kwh(house.load_w, EQUINOX) == pytest.approx(8.0, rel=0.01)
    spiky = HouseLoad(8.0, 1.0, spikes_per_hour=2.0, seed=1)
    assert energy_kwh(spiky.load_w, EQUINOX, 5.0) > 8.5


def test_battery_limits_efficiency_and_floor() -> None:
    b = Battery(BatterySpec(capacity_wh=1000, max_charge_w=500, max_discharge_w=400,
                            round_trip_efficiency=0.81, min_soc=0.1, initial_soc=0.5))
    assert b.charge(1000, 3600) == 500  # charger limit
    assert b.stored_wh == pytest.approx(500 + 500 * 0.9)
    assert b.charge(1000, 3600) == pytest.approx(50 / 0.9)  # only the room left
    assert b.soc == pytest.approx(1.0)
    assert b.discharge(1000, 3600) == 400  # inverter limit
    assert b.stored_wh == pytest.approx(1000 - 400 / 0.9)
    got = b.discharge(400, 7200)  # two hours: runs down to the 10 % floor, not below
    assert got == pytest.approx((1000 - 400 / 0.9 - 100) * 0.9 / 2)
    assert b.soc == pytest.approx(0.1)
    assert b.discharge(100, 60) == 0.0
    with pytest.raises(ConfigError):
        BatterySpec(capacity_wh=0)


def test_home_never_counts_grid_while_the_battery_covers() -> None:
    home = HomeSite(SolarTrace("greensboro", 0.0, 1.0), HouseLoad(8.0, 1.0),
                    BatterySpec(capacity_wh=1000, initial_soc=1.0, min_soc=0.0))
    for i in range(360):  # one hour at 300 W, no sun at all (0 kWp)
        home.step(EQUINOX + i * 10, 10, 300.0)
    assert home.inferer_grid_wh == 0.0
    assert home.inferer_battery_wh == pytest.approx(300.0)
    for i in range(360, 360 * 4):  # three more hours: the battery runs out
        home.step(EQUINOX + i * 10, 10, 300.0)
    assert home.inferer_battery_wh == pytest.approx(1000 * 0.9 ** 0.5, rel=1e-6)
    assert home.inferer_grid_wh == pytest.approx(1200 - home.inferer_battery_wh, rel=1e-6)
    assert home.inferer_wh == pytest.approx(1200.0)


def test_trace_adapter_steps_the_battery_with_the_reported_draw() -> None:
    clock = ManualClock(EQUINOX)  # 01:00 at UTC+1: night
    adapter = make_adapter("trace", utc_offset_h="1", battery_kwh="10", initial_soc="0.8", clock=clock)
    assert isinstance(adapter, TraceAdapter)
    first = adapter.read(0.0)
    assert first.available_w == 0.0 and first.headroom_w < 0 and first.battery_soc == 0.8
    clock.advance(3600)
    second = adapter.read(300.0)  # an hour at 300 W from the battery
    assert second.battery_soc == pytest.approx(0.8 - 300 / 0.9 ** 0.5 / 10_000, rel=1e-6)
    assert adapter.home.inferer_grid_wh == 0.0


def test_trace_start_times() -> None:
    now = EQUINOX + 3 * 3600  # 03:00 UTC
    assert resolve_start("local-noon", 8.0, now) == EQUINOX + 4 * 3600  # 12:00 at UTC+8
    assert resolve_start("local-midnight", -5.0, now) == EQUINOX - DAY + 5 * 3600
    assert resolve_start("2026-03-20T12:00:00+01:00", 0.0) == EQUINOX + 11 * 3600
    assert resolve_start("1774008000", 0.0) == 1774008000.0
    with pytest.raises(ConfigError, match="trace start"):
        resolve_start("teatime", 0.0)
