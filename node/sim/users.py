"""Synthetic users: Poisson session arrivals whose rate follows people's local day.

Users live in the scenario's zones (an equal share each). A zone's relative activity by
local hour is ``ACTIVITY`` (quiet at night, busy in the evening); the total rate is
scaled so that the mean number of concurrently active users equals
``Scenario.mean_users``: rate(t) = mean_users / session_s × activity(t) / mean activity.
Session lengths are exponential with mean ``session_s``. Seeded: the same scenario gives
the same users.
"""

from __future__ import annotations

import math

import numpy as np

ACTIVITY = (
    0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0,
    1.1, 1.0, 1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.6, 1.3, 0.9, 0.5,
)  # fmt: skip
_MEAN = sum(ACTIVITY) / len(ACTIVITY)


def activity(hour: float) -> float:
    """Relative activity at local ``hour`` (0..24), linear between hour midpoints."""
    x = (hour - 0.5) % 24.0
    i = math.floor(x)
    return ACTIVITY[i] + (ACTIVITY[(i + 1) % 24] - ACTIVITY[i]) * (x - i)


class UserLoad:
    def __init__(self, mean_users: float, session_s: float, zones: tuple[float, ...], seed: int) -> None:
        self.mean_users = mean_users
        self.session_s = session_s
        self.zones = zones
        self.rng = np.random.default_rng([seed, 99])

    def rate(self, t: float) -> float:
        """Session arrivals per second at unix time ``t``."""
        hour = (t / 3600.0) % 24.0
        rel = sum(activity(hour + z) for z in self.zones) / len(self.zones) / _MEAN
        return self.mean_users / self.session_s * rel

    def arrivals(self, t: float, dt: float) -> list[float]:
        """Durations (s) of the sessions that arrive in ``[t, t + dt)``."""
        n = int(self.rng.poisson(self.rate(t) * dt))
        return [float(d) for d in self.rng.exponential(self.session_s, n)]
