"""``EnergyReading``: what every adapter returns, whatever the inverter speaks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EnergyReading:
    """One normalised observation of a site's renewable power.

    ``headroom_w`` is renewable production minus the house's own load, NOT counting the
    inferer itself (adapters that measure the whole house subtract the inferer's draw).
    It is negative when the house alone uses more than the panels give.
    """

    timestamp: float  # unix seconds (UTC) when the values were measured
    source: str  # adapter name, e.g. "sunspec", "fronius", "trace", "fixed"
    available_w: float  # renewable production right now (PV AC/DC power), >= 0
    headroom_w: float  # available_w - house load (without the inferer)
    battery_soc: float | None = None  # 0..1, None without a battery
    battery_capacity_wh: float | None = None  # nameplate capacity, when known
    battery_power_w: float | None = None  # + charging, - discharging, when known

    def __post_init__(self) -> None:
        if self.available_w < 0:
            raise ValueError(f"available_w must be >= 0, got {self.available_w}")
        if self.battery_soc is not None and not 0.0 <= self.battery_soc <= 1.0:
            raise ValueError(f"battery_soc must be within 0..1, got {self.battery_soc}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
