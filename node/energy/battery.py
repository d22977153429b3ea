"""A home battery: capacity, charge/discharge power limits, round-trip efficiency and a
hardware floor. Energy bookkeeping is exact per step (no state outside ``stored_wh``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from node.core.errors import ConfigError


@dataclass(frozen=True)
class BatterySpec:
    capacity_wh: float = 10_000.0  # usable nameplate energy
    max_charge_w: float = 5_000.0  # charger limit
    max_discharge_w: float = 5_000.0  # inverter limit
    round_trip_efficiency: float = 0.90  # split evenly between charging and discharging
    min_soc: float = 0.05  # the battery management system never goes below this
    initial_soc: float = 0.5

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0:
            raise ConfigError(f"battery capacity must be positive, got {self.capacity_wh} Wh")
        if self.max_charge_w <= 0 or self.max_discharge_w <= 0:
            raise ConfigError("battery charge/discharge limits must be positive watts")
        if not 0 < self.round_trip_efficiency <= 1:
            raise ConfigError(
                f"round_trip_efficiency must be in (0, 1], got {self.round_trip_efficiency}"
            )
        if not 0 <= self.min_soc < 1 or not 0 <= self.initial_soc <= 1:
            raise ConfigError("min_soc must be in [0, 1) and initial_soc in [0, 1]")


class Battery:
    """State of charge plus the two operations a site needs: charge and discharge."""

    def __init__(self, spec: BatterySpec) -> None:
        self.spec = spec
        self.stored_wh = spec.capacity_wh * max(spec.initial_soc, spec.min_soc)
        self._eta = math.sqrt(spec.round_trip_efficiency)  # one-way efficiency

    @property
    def soc(self) -> float:
        return self.stored_wh / self.spec.capacity_wh

    def charge(self, offered_w: float, dt_s: float) -> float:
        """Offer ``offered_w`` for ``dt_s`` seconds; returns the watts actually taken."""
        if offered_w <= 0 or dt_s <= 0:
            return 0.0
        room_wh = self.spec.capacity_wh - self.stored_wh
        taken_w = min(offered_w, self.spec.max_charge_w, room_wh / self._eta * 3600.0 / dt_s)
        taken_w = max(0.0, taken_w)
        self.stored_wh = min(self.spec.capacity_wh, self.stored_wh + taken_w * self._eta * dt_s / 3600.0)
        return taken_w

    def discharge(self, wanted_w: float, dt_s: float) -> float:
        """Ask for ``wanted_w`` for ``dt_s`` seconds; returns the watts actually delivered."""
        if wanted_w <= 0 or dt_s <= 0:
            return 0.0
        floor_wh = self.spec.capacity_wh * self.spec.min_soc
        avail_wh = max(0.0, self.stored_wh - floor_wh)
        given_w = min(wanted_w, self.spec.max_discharge_w, avail_wh * self._eta * 3600.0 / dt_s)
        given_w = max(0.0, given_w)
        self.stored_wh = max(floor_wh, self.stored_wh - given_w / self._eta * dt_s / 3600.0)
        return given_w
