"""A token bucket that caps download bandwidth (MB/s) for volunteers on home links.

Streaming backends call ``consume`` per chunk (a true cap). A backend that only hands
over whole files calls it per file: the average stays under the cap, single files
still arrive at full speed (docs/ipfs.md shows ``tc ... tbf`` for a hard cap).
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """At most ``mb_per_s`` × 10⁶ bytes per second on average, bursts up to ``burst_s``."""

    def __init__(self, mb_per_s: float, burst_s: float = 0.5) -> None:
        if mb_per_s <= 0:
            raise ValueError(f"bandwidth cap must be > 0 MB/s, got {mb_per_s}")
        self.rate = mb_per_s * 1e6  # bytes per second
        self.capacity = self.rate * burst_s
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def consume(self, nbytes: int) -> float:
        """Take ``nbytes``, sleeping as long as the cap requires; returns seconds slept."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= nbytes
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)
        return wait
