"""The energy simulation's scenario: every knob, with the documented defaults.

Default scenario (docs/energy.md): the March equinox (20 March), 24 h from 00:00 UTC
after a 24 h warm-up; inferers spread evenly (round robin) over three zones, UTC-5,
UTC+1 and UTC+8, each with Greensboro NC's real TMY3 weather for that day moved to its
zone; per inferer a 5 kWp array, an 8 kWh/day house, a 10 kWh battery (5 kW, 90 %
round trip, 50 % charged at the start of the warm-up) and a 300 W machine (120 W
idle, 8 sessions) holding the whole 30-block model (SmolLM2). Users: on average
4 active per inferer, spread like the inferers over the zones and busier in their
local daytime and evening, sessions of 2 min on average; admission 1 inferer : 8
users, a 30 s queue.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from node.core.errors import ConfigError
from node.energy.controller import ControllerConfig
from node.energy.traces import SITES
from node.referee.energy import SchedulerConfig

SEASONS = {"march-equinox": "03-20", "june-solstice": "06-21", "december-solstice": "12-21"}
YEAR = 2026  # the calendar year of the simulated day (any non-leap year gives the same data)


@dataclass(frozen=True)
class Scenario:
    hours: float = 24.0
    warmup_hours: float = 24.0  # simulated before t0, not measured (batteries, states settle)
    inferers: int = 6
    zones: tuple[float, ...] = (-5.0, 1.0, 8.0)  # UTC offsets, inferers assigned round robin
    date: str = "03-20"  # MM-DD (or a SEASONS name); t0 = 00:00 UTC that day
    site: str = "greensboro"  # weather of every zone (see node.energy.traces.SITES)
    kwp: float = 5.0
    house_kwh_per_day: float = 8.0
    battery_kwh: float = 10.0  # 0 = no batteries
    battery_kw: float = 5.0
    initial_soc: float = 0.5
    house_on_battery: bool = False  # True: the house draws on the battery too
    inferer_w: float = 300.0
    idle_fraction: float = 0.4  # idle draw = idle_fraction × inferer_w
    max_sessions: int = 8
    num_blocks: int = 30  # SmolLM2-135M has 30 blocks
    span_blocks: int | None = None  # None = every inferer holds the whole model
    users: float | None = None  # mean concurrent active users; None = 4 per inferer
    session_s: float = 120.0  # mean session length (exponential)
    load_s: float = 20.0  # time to load the model
    drain_timeout_s: float = 120.0  # open sessions are handed over after this
    claim_period_s: float = 30.0  # inferers refresh their DHT energy claim this often
    tick_s: float = 5.0  # adapter poll / simulation step
    record_s: float = 60.0  # time-series resolution (JSON/plot)
    noise: bool = True
    seed: int = 7
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def __post_init__(self) -> None:
        if self.hours <= 0 or self.warmup_hours < 0:
            raise ConfigError("hours must be > 0 and warmup_hours >= 0")
        if self.inferers < 1:
            raise ConfigError(f"need at least one inferer, got {self.inferers}")
        if not self.zones:
            raise ConfigError("need at least one time zone")
        if self.site not in SITES:
            raise ConfigError(f"unknown site {self.site!r}; choose one of {', '.join(SITES)}")
        if self.tick_s <= 0 or self.record_s < self.tick_s:
            raise ConfigError("tick_s must be > 0 and record_s >= tick_s")
        if self.span_blocks is not None and not 1 <= self.span_blocks <= self.num_blocks:
            raise ConfigError(f"span_blocks must be within 1..{self.num_blocks}")
        _ = self.t0  # validates the date

    @property
    def t0(self) -> float:
        """Unix seconds of the measured window's start (00:00 UTC of ``date``)."""
        text = SEASONS.get(self.date, self.date)
        try:
            month, day = (int(x) for x in text.split("-")[-2:])
            return float(calendar.timegm((YEAR, month, day, 0, 0, 0)))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"date {self.date!r} must be MM-DD or one of {', '.join(SEASONS)}") from exc

    @property
    def mean_users(self) -> float:
        return 4.0 * self.inferers if self.users is None else self.users

    def zone_of(self, index: int) -> float:
        return self.zones[index % len(self.zones)]

    def span_of(self, index: int) -> tuple[int, int]:
        """Blocks of inferer ``index``: the whole model, or spans tiling the model among
        the inferers of the same zone."""
        n, k = self.num_blocks, self.span_blocks or self.num_blocks
        if k >= n:
            return (0, n)
        peers = [i for i in range(self.inferers) if self.zone_of(i) == self.zone_of(index)]
        j, m = peers.index(index), len(peers)
        start = 0 if m == 1 else round(j * (n - k) / (m - 1))
        return (start, start + k)

    def controller_config(self) -> ControllerConfig:
        return replace(
            self.controller,
            power_w=self.inferer_w,
            idle_w=self.idle_fraction * self.inferer_w,
            max_sessions=self.max_sessions,
        )

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["controller"] = asdict(self.controller_config())
        d["users"] = self.mean_users
        d["zones"] = list(self.zones)
        return d
