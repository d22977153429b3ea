"""``fixed``: values from the config or the command line, for hobbyists without an
inverter API (or a bench power supply). Headroom = ``available_w - house_w``."""

from __future__ import annotations

from typing import Any

from node.core.errors import ConfigError
from node.energy.adapters.base import EnergyAdapter, as_float, as_optional_float, register
from node.energy.clock import Clock, WallClock
from node.energy.reading import EnergyReading


@register("fixed")
class FixedAdapter(EnergyAdapter):
    def __init__(
        self,
        available_w: float | str = 1000.0,
        house_w: float | str = 0.0,
        battery_soc: float | str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.available_w = as_float(available_w, "available_w")
        self.house_w = as_float(house_w, "house_w")
        self.battery_soc = as_optional_float(battery_soc, "battery_soc")
        self.clock = clock or WallClock()
        try:  # validate once, at construction (EnergyReading checks the ranges)
            self.read()
        except ValueError as exc:
            raise ConfigError(f"fixed energy adapter: {exc}") from exc

    def read(self, self_draw_w: float = 0.0) -> EnergyReading:
        return EnergyReading(
            timestamp=self.clock.now(),
            source=self.name,
            available_w=self.available_w,
            headroom_w=self.available_w - self.house_w,
            battery_soc=self.battery_soc,
        )

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "available_w": self.available_w, "house_w": self.house_w}
