"""Real solar traces: pvlib's bundled typical-meteorological-year files, turned into PV
watts for a panel size, moved to any time zone, with seeded sub-hour cloud noise, plus
a house load profile.

Data (shipped inside the ``pvlib`` wheel, nothing downloaded):
- ``greensboro``: ``723170TYA.CSV``, TMY3, Greensboro NC (36.1 N, UTC-5)
- ``sand-point``: ``703165TY.csv``, TMY3, Sand Point AK (55.3 N, UTC-9)
- ``miami``: ``12839.tm2``, TMY2, Miami FL (25.8 N, UTC-5)

From irradiance to watts: plane-of-array irradiance (pvlib isotropic sky model, panels
tilted at the site's latitude facing south) × kWp / 1000 W/m² × a 14 % system loss ×
a -0.4 %/K cell-temperature coefficient (pvlib's Faiman cell temperature), clipped at
the inverter's rating (= kWp). Each TMY row is the mean of one hour: it is placed at
the middle of its hour and interpolated linearly between hours.

Time zones: the site's local standard time is mapped onto the chosen zone's local
standard time, so a trace placed in UTC+8 has its solar noon near 04:20 UTC; the
weather is the site's. The hour-of-year wraps around the year; 29 February reads 28
February.

Cloud noise (sub-hour dynamics the hourly data cannot show): per hour of each trace,
cloud passages arrive as a Poisson process at ``12 × 4c(1-c)`` per hour, where ``c`` is
the hour's total cloud cover (TMY ``TotCld``, tenths/10): none under clear or fully
overcast skies, most under broken clouds. A passage lasts a log-normal time (median
90 s, clipped 10-900 s) and cuts PV output by a uniform 30-85 %. The factors of an
hour are then rescaled to a mean of 1 (cloud enhancement between passages, capped at
1.3×), so every hour keeps the energy of the real data unless the cap binds. The noise
of hour ``h`` depends only on ``(seed, h)``: any instant can be read in any order.
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from node.core.errors import ConfigError

SITES: dict[str, tuple[str, str]] = {
    "greensboro": ("723170TYA.CSV", "tmy3"),
    "sand-point": ("703165TY.csv", "tmy3"),
    "miami": ("12839.tm2", "tmy2"),
}
HOURS_PER_YEAR = 8760
SYSTEM_LOSS = 0.14  # wiring, soiling, mismatch, inverter
TEMP_COEFF_PER_K = -0.004
NOISE_STEP_S = 5.0  # resolution of the cloud-noise factors
MAX_ENHANCEMENT = 1.3

# Typical household, watts per local hour (shape only; scaled to the daily energy).
HOUSE_SHAPE_W = (
    200, 200, 200, 200, 200, 200, 300, 600, 500, 300, 300, 300,
    400, 300, 300, 300, 300, 450, 700, 800, 700, 500, 350, 250,
)  # fmt: skip


@dataclass(frozen=True)
class SiteData:
    """Hourly PV output per kWp and cloud cover of one TMY file, in site-local hours."""

    name: str
    latitude: float
    longitude: float
    utc_offset_h: float
    pv_w_per_kwp: tuple[float, ...]  # 8760 values, hour i = [i, i+1) local standard time
    cloud: tuple[float, ...]  # 8760 values in 0..1


def _pvlib_data_dir() -> Path:
    import pvlib

    return Path(pvlib.__file__).parent / "data"


@lru_cache(maxsize=8)
def load_site(name: str) -> SiteData:
    """Read one bundled TMY file and compute its PV output per kWp (≈ 50 ms, cached)."""
    import pandas as pd
    import pvlib

    if name not in SITES:
        raise ConfigError(f"unknown solar site {name!r}; choose one of {', '.join(SITES)}")
    filename, kind = SITES[name]
    path = _pvlib_data_dir() / filename
    if not path.is_file():
        raise ConfigError(f"pvlib's bundled file {path} is missing; reinstall pvlib (make setup)")
    if kind == "tmy3":
        data, meta = pvlib.iotools.read_tmy3(path, map_variables=True)
        ghi, dni, dhi = data["ghi"], data["dni"], data["dhi"]
        temp, wind, cloud = data["temp_air"], data["wind_speed"], data["TotCld (tenths)"]
        tz = float(meta["TZ"])
    else:
        data, meta = pvlib.iotools.read_tmy2(path)
        ghi, dni, dhi = data["GHI"], data["DNI"], data["DHI"]
        # TMY2 stores temperature and wind speed in tenths (°C, m/s).
        temp, wind, cloud = data["DryBulb"] / 10.0, data["Wspd"] / 10.0, data["TotCld"]
        tz = float(meta["TZ"])
    if len(data) != HOURS_PER_YEAR:
        raise ConfigError(f"{path} has {len(data)} hourly rows, expected {HOURS_PER_YEAR}")
    lat, lon = float(meta["latitude"]), float(meta["longitude"])
    # Row i is the mean of local-standard hour [i, i+1): sun position at its middle. TMY
    # rows mix years; a fixed non-leap year gives the right day-of-year for every row.
    tzinfo = f"Etc/GMT{-int(tz):+d}" if tz == int(tz) else None
    mid = pd.date_range("2023-01-01 00:30", periods=HOURS_PER_YEAR, freq="h", tz=tzinfo)
    sun = pvlib.solarposition.get_solarposition(mid, lat, lon)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=abs(lat),
        surface_azimuth=180.0 if lat >= 0 else 0.0,
        solar_zenith=sun["apparent_zenith"].to_numpy(),
        solar_azimuth=sun["azimuth"].to_numpy(),
        dni=dni.to_numpy(dtype=float),
        ghi=ghi.to_numpy(dtype=float),
        dhi=dhi.to_numpy(dtype=float),
    )["poa_global"]
    poa = np.nan_to_num(np.asarray(poa, dtype=float), nan=0.0).clip(min=0.0)
    t_cell = pvlib.temperature.faiman(poa, temp.to_numpy(dtype=float), wind.to_numpy(dtype=float))
    pv = poa * (1.0 - SYSTEM_LOSS) * (1.0 + TEMP_COEFF_PER_K * (np.asarray(t_cell) - 25.0))
    pv = np.clip(pv, 0.0, 1000.0)  # W per kWp, clipped at the inverter rating
    cloud_frac = np.clip(np.nan_to_num(cloud.to_numpy(dtype=float), nan=5.0) / 10.0, 0.0, 1.0)
    return SiteData(
        name=name,
        latitude=lat,
        longitude=lon,
        utc_offset_h=tz,
        pv_w_per_kwp=tuple(float(x) for x in pv),
        cloud=tuple(float(x) for x in cloud_frac),
    )


@lru_cache(maxsize=64)
def _year_start(year: int) -> float:
    return float(calendar.timegm((year, 1, 1, 0, 0, 0)))


def hour_of_year(local_s: float) -> float:
    """Hours since 1 January 00:00 of ``local_s`` read as a UTC-like local timestamp,
    on a 365-day year (29 February folds onto 28 February)."""
    year = time.gmtime(local_s).tm_year
    hours = (local_s - _year_start(year)) / 3600.0
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if leap and hours >= 59 * 24:  # day 59 is 29 Feb in a leap year, 1 Mar otherwise
        hours -= 24
    return hours


def _interp_hourly(values: tuple[float, ...], hoy: float) -> float:
    """Linear interpolation of hour-mean values placed at mid-hour, wrapping the year."""
    x = hoy - 0.5
    i0 = math.floor(x)
    frac = x - i0
    a = values[i0 % HOURS_PER_YEAR]
    b = values[(i0 + 1) % HOURS_PER_YEAR]
    return a + (b - a) * frac


@lru_cache(maxsize=4096)
def _cloud_factors(seed: int, abs_hour: int, cover: float) -> tuple[float, ...]:
    """Multiplicative PV factors for one hour at ``NOISE_STEP_S`` resolution, mean 1."""
    n = int(3600 / NOISE_STEP_S)
    factors = np.ones(n)
    rate = 12.0 * 4.0 * cover * (1.0 - cover)
    if rate > 0:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, abs_hour & 0xFFFFFFFF])
        for _ in range(rng.poisson(rate)):
            start = rng.uniform(0, 3600)
            duration = float(np.clip(rng.lognormal(math.log(90.0), 0.8), 10.0, 900.0))
            depth = rng.uniform(0.30, 0.85)
            a = int(start / NOISE_STEP_S)
            b = min(n, int(math.ceil((start + duration) / NOISE_STEP_S)))
            factors[a:b] *= 1.0 - depth
        mean = factors.mean()
        if mean > 0:
            factors = np.minimum(factors / mean, MAX_ENHANCEMENT)
    return tuple(float(x) for x in factors)


class SolarTrace:
    """PV watts of a ``kwp`` array at one site's weather, placed in another time zone."""

    def __init__(
        self,
        site: str = "greensboro",
        kwp: float = 5.0,
        utc_offset_h: float | None = None,
        *,
        noise: bool = True,
        seed: int = 0,
    ) -> None:
        if kwp < 0:
            raise ConfigError(f"panel size must be >= 0 kWp, got {kwp}")
        self.site = load_site(site)
        self.kwp = kwp
        self.utc_offset_h = self.site.utc_offset_h if utc_offset_h is None else utc_offset_h
        if not -14 <= self.utc_offset_h <= 14:
            raise ConfigError(f"UTC offset must be within -14..+14 h, got {self.utc_offset_h}")
        self.noise = noise
        self.seed = seed
        self._memo = (math.nan, 0.0)  # (t, pv_w): the site asks for the same instant twice

    def local_hour_of_year(self, t: float) -> float:
        return hour_of_year(t + self.utc_offset_h * 3600.0)

    def clear_w(self, t: float) -> float:
        """Hourly data interpolated, without cloud noise."""
        return self.kwp * _interp_hourly(self.site.pv_w_per_kwp, self.local_hour_of_year(t))

    def pv_w(self, t: float) -> float:
        if self._memo[0] == t:
            return self._memo[1]
        value = self._pv_w(t)
        self._memo = (t, value)
        return value

    def _pv_w(self, t: float) -> float:
        base = self.clear_w(t)
        if not self.noise or base <= 0:
            return base
        hoy = self.local_hour_of_year(t)
        hour = math.floor(hoy)
        cover = self.site.cloud[hour % HOURS_PER_YEAR]
        abs_hour = math.floor((t + self.utc_offset_h * 3600.0) / 3600.0)
        factors = _cloud_factors(self.seed, abs_hour, round(cover, 2))
        step = int((hoy - hour) * 3600.0 / NOISE_STEP_S)
        return min(base * factors[min(step, len(factors) - 1)], self.kwp * 1000.0)


class HouseLoad:
    """A household's own consumption in its local time: a daily shape scaled to
    ``kwh_per_day`` plus seeded appliance spikes (kettle, oven: 1.5-2.5 kW for 2-5 min,
    on average ``spikes_per_hour`` an hour between 06:00 and 23:00)."""

    def __init__(
        self,
        kwh_per_day: float = 8.0,
        utc_offset_h: float = 0.0,
        *,
        spikes_per_hour: float = 0.5,
        seed: int = 0,
    ) -> None:
        if kwh_per_day < 0:
            raise ConfigError(f"house load must be >= 0 kWh/day, got {kwh_per_day}")
        scale = kwh_per_day * 1000.0 / sum(HOUSE_SHAPE_W)
        self.hourly_w = tuple(w * scale for w in HOUSE_SHAPE_W)
        self.utc_offset_h = utc_offset_h
        self.spikes_per_hour = spikes_per_hour
        self.seed = seed
        self._memo = (math.nan, 0.0)

    def load_w(self, t: float) -> float:
        if self._memo[0] == t:
            return self._memo[1]
        value = self._load_w(t)
        self._memo = (t, value)
        return value

    def _load_w(self, t: float) -> float:
        local = t + self.utc_offset_h * 3600.0
        hod = (local / 3600.0) % 24.0
        x = hod - 0.5
        i0 = math.floor(x)
        base = self.hourly_w[i0 % 24] + (self.hourly_w[(i0 + 1) % 24] - self.hourly_w[i0 % 24]) * (x - i0)
        return base + self._spike_w(local)

    def _spike_w(self, local: float) -> float:
        abs_hour = math.floor(local / 3600.0)
        if not 6 <= abs_hour % 24 < 23 or self.spikes_per_hour <= 0:
            return 0.0
        offset = local - abs_hour * 3600.0
        return sum(w for start, end, w in _spikes(self.seed, abs_hour, self.spikes_per_hour) if start <= offset < end)


@lru_cache(maxsize=4096)
def _spikes(seed: int, abs_hour: int, rate: float) -> tuple[tuple[float, float, float], ...]:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, abs_hour & 0xFFFFFFFF, 7])
    out = []
    for _ in range(rng.poisson(rate)):
        start = rng.uniform(0, 3600)
        out.append((start, start + rng.uniform(120, 300), rng.uniform(1500, 2500)))
    return tuple(out)
