"""``trace``: replays real TMY irradiance (``node.energy.traces``) through a simulated home
(``node.energy.site``: panels, house load, optional battery) on any clock.

The battery is stepped between reads (at most ``step_s`` per step) with the inferer's
reported draw, so its state of charge follows what the inferer really used. With an
``AcceleratedClock`` a day passes in minutes (the demo); with a ``ManualClock`` the
simulation advances it tick by tick.

``start``: ``"local-noon"`` (today, 12:00 in the trace's time zone), ``"local-midnight"``,
an ISO date/time (UTC unless it carries an offset) or unix seconds; used only to build
the default clock (``AcceleratedClock(start, speed)``) when no clock is given.
``date`` moves ``local-noon`` / ``local-midnight`` to another day of this year:
``MM-DD``, ``YYYY-MM-DD`` or a season name (``march-equinox``, ``june-solstice``,
``december-solstice``), e.g. the demo's equinox noon in November.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from typing import Any

from node.core.errors import ConfigError
from node.energy.adapters.base import (
    EnergyAdapter,
    as_bool,
    as_float,
    as_optional_float,
    register,
)
from node.energy.battery import BatterySpec
from node.energy.clock import AcceleratedClock, Clock
from node.energy.reading import EnergyReading
from node.energy.site import HomeSite
from node.energy.traces import HouseLoad, SolarTrace

SEASON_DATES = {"march-equinox": "03-20", "june-solstice": "06-21", "december-solstice": "12-21"}


def date_noon(date: str, utc_offset_h: float, now: float | None = None) -> float:
    """Unix seconds of 12:00 local time on ``date`` (``MM-DD`` of the current year,
    ``YYYY-MM-DD`` or a ``SEASON_DATES`` name)."""
    text = SEASON_DATES.get(date.strip().lower(), date.strip())
    parts = text.split("-")
    try:
        if len(parts) == 2:
            year = time.gmtime(time.time() if now is None else now).tm_year
            month, day = int(parts[0]), int(parts[1])
        elif len(parts) == 3:
            year, month, day = (int(p) for p in parts)
        else:
            raise ValueError(text)
        noon = calendar.timegm(datetime(year, month, day, 12, tzinfo=UTC).timetuple())
    except ValueError:
        raise ConfigError(f"trace date {date!r}: use MM-DD, YYYY-MM-DD or one of "
                          f"{', '.join(SEASON_DATES)}") from None
    return noon - utc_offset_h * 3600.0


def resolve_start(start: str | float, utc_offset_h: float, now: float | None = None,
                  date: str | None = None) -> float:
    """Unix seconds for ``start`` (see the module docstring)."""
    if date is not None:
        if str(start).strip() not in ("local-noon", "local-midnight"):
            raise ConfigError(f"a trace date goes with start local-noon or local-midnight, not {start!r}")
        now = date_noon(date, utc_offset_h, now)
    if isinstance(start, int | float):
        return float(start)
    text = str(start).strip()
    now = time.time() if now is None else now
    if text in ("local-noon", "local-midnight"):
        local = time.gmtime(now + utc_offset_h * 3600.0)
        midnight_local = calendar.timegm((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0))
        hour = 12 if text == "local-noon" else 0
        return midnight_local + hour * 3600.0 - utc_offset_h * 3600.0
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"trace start {text!r} is not local-noon, local-midnight, an ISO date or unix seconds"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@register("trace")
class TraceAdapter(EnergyAdapter):
    def __init__(
        self,
        site: str = "greensboro",
        kwp: float | str = 5.0,
        utc_offset_h: float | str | None = None,
        *,
        house_kwh_per_day: float | str = 8.0,
        battery_kwh: float | str = 10.0,  # 0 = no battery
        battery_kw: float | str = 5.0,  # charge and discharge limit
        battery_efficiency: float | str = 0.9,  # round trip
        initial_soc: float | str = 0.5,
        house_on_battery: bool | str = False,
        noise: bool | str = True,
        seed: int | str = 0,
        start: str | float = "local-noon",
        date: str | None = None,  # move local-noon/-midnight to this day (MM-DD, season name)
        speed: float | str = 1.0,
        step_s: float | str = 5.0,
        clock: Clock | None = None,
    ) -> None:
        offset = as_optional_float(utc_offset_h, "utc_offset_h")
        solar = SolarTrace(site, as_float(kwp, "kwp"), offset, noise=as_bool(noise), seed=int(seed))
        house = HouseLoad(
            as_float(house_kwh_per_day, "house_kwh_per_day"), solar.utc_offset_h, seed=int(seed)
        )
        capacity_wh = as_float(battery_kwh, "battery_kwh") * 1000.0
        spec = None
        if capacity_wh > 0:
            limit_w = as_float(battery_kw, "battery_kw") * 1000.0
            spec = BatterySpec(
                capacity_wh=capacity_wh,
                max_charge_w=limit_w,
                max_discharge_w=limit_w,
                round_trip_efficiency=as_float(battery_efficiency, "battery_efficiency"),
                initial_soc=as_float(initial_soc, "initial_soc"),
            )
        self.home = HomeSite(solar, house, spec, house_on_battery=as_bool(house_on_battery))
        self.step_s = as_float(step_s, "step_s")
        if self.step_s <= 0:
            raise ConfigError(f"step_s must be positive, got {self.step_s}")
        self.clock = clock or AcceleratedClock(
            resolve_start(start, solar.utc_offset_h, date=date), as_float(speed, "speed")
        )
        self._last_t: float | None = None

    @property
    def utc_offset_h(self) -> float:
        return self.home.solar.utc_offset_h

    def advance(self, until: float, draw_w: float) -> None:
        """Step the home up to ``until`` with the inferer drawing ``draw_w``."""
        if self._last_t is None:
            self._last_t = until
            return
        t = self._last_t
        while t < until - 1e-9:
            dt = min(self.step_s, until - t)
            self.home.step(t, dt, draw_w)
            t += dt
        self._last_t = max(self._last_t, until)

    def read(self, self_draw_w: float = 0.0) -> EnergyReading:
        now = self.clock.now()
        self.advance(now, self_draw_w)
        pv, _house, headroom = self.home.headroom_w(now)
        spec = self.home.battery.spec if self.home.battery is not None else None
        return EnergyReading(
            timestamp=now,
            source=self.name,
            available_w=pv,
            headroom_w=headroom,
            battery_soc=self.home.soc,
            battery_capacity_wh=spec.capacity_wh if spec else None,
        )

    def describe(self) -> dict[str, Any]:
        s = self.home.solar
        return {
            "adapter": self.name,
            "site": s.site.name,
            "kwp": s.kwp,
            "utc_offset_h": s.utc_offset_h,
            "battery_wh": self.home.battery.spec.capacity_wh if self.home.battery else 0.0,
        }
