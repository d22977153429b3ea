"""``HomeSite``: panels + house + optional battery + the inferer, stepped through time
with exact energy bookkeeping. The trace-replay adapter reads it; the simulation takes
its totals (grid energy the inferer drew, battery energy it used) from it.

Dispatch order in every step (what a hybrid inverter does):
1. PV feeds the house's own load first; ``headroom = pv - house`` (may be negative).
2. Positive headroom feeds the inferer; what is left charges the battery, then exports.
3. An inferer deficit comes from the battery (down to its hardware floor), then from
   the grid: that last part is ``inferer_grid_wh``, energy from neither the panels
   nor the battery.
4. A house deficit comes from the grid (``house_on_battery=False``, the default: the
   battery is the inferer's budget) or from the battery first (``True``).
"""

from __future__ import annotations

from dataclasses import dataclass

from node.energy.battery import Battery, BatterySpec
from node.energy.traces import HouseLoad, SolarTrace


@dataclass(frozen=True)
class Flows:
    """Mean powers (W) over one step."""

    pv_w: float
    house_w: float
    headroom_w: float
    inferer_w: float
    inferer_from_pv_w: float
    inferer_from_battery_w: float
    inferer_from_grid_w: float
    battery_charge_w: float
    battery_soc: float | None


class HomeSite:
    def __init__(
        self,
        solar: SolarTrace,
        house: HouseLoad,
        battery: BatterySpec | None = None,
        *,
        house_on_battery: bool = False,
    ) -> None:
        self.solar = solar
        self.house = house
        self.battery = Battery(battery) if battery is not None else None
        self.house_on_battery = house_on_battery
        # Running totals (Wh) since construction.
        self.inferer_wh = 0.0
        self.inferer_battery_wh = 0.0
        self.inferer_grid_wh = 0.0
        self.pv_wh = 0.0

    @property
    def soc(self) -> float | None:
        return self.battery.soc if self.battery is not None else None

    def headroom_w(self, t: float) -> tuple[float, float, float]:
        """``(pv_w, house_w, headroom_w)`` at instant ``t``."""
        pv = self.solar.pv_w(t)
        house = self.house.load_w(t)
        return pv, house, pv - house

    def step(self, t: float, dt_s: float, inferer_w: float) -> Flows:
        """Advance ``dt_s`` seconds from ``t`` with the inferer drawing ``inferer_w``
        (values at ``t`` held over the step)."""
        pv, house, headroom = self.headroom_w(t)
        inferer_w = max(0.0, inferer_w)
        from_pv = min(inferer_w, max(0.0, headroom))
        deficit = inferer_w - from_pv
        surplus = max(0.0, headroom) - from_pv
        from_battery = charge = 0.0
        if self.battery is not None:
            if self.house_on_battery and headroom < 0:
                self.battery.discharge(-headroom, dt_s)
            from_battery = self.battery.discharge(deficit, dt_s)
            charge = self.battery.charge(surplus, dt_s)
        from_grid = deficit - from_battery
        if from_grid < 1e-9:  # float dust, not energy
            from_grid = 0.0
        hours = dt_s / 3600.0
        self.inferer_wh += inferer_w * hours
        self.inferer_battery_wh += from_battery * hours
        self.inferer_grid_wh += from_grid * hours
        self.pv_wh += pv * hours
        return Flows(
            pv_w=pv,
            house_w=house,
            headroom_w=headroom,
            inferer_w=inferer_w,
            inferer_from_pv_w=from_pv,
            inferer_from_battery_w=from_battery,
            inferer_from_grid_w=from_grid,
            battery_charge_w=charge,
            battery_soc=self.soc,
        )
