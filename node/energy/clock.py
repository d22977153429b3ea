"""Clocks. Everything in ``node.energy`` reads time from a ``Clock`` so the same code runs
on the wall clock (a real inverter), on an accelerated clock (the demo: a day in
minutes) and on a manual clock (the simulation: ticks as fast as the CPU allows)."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix seconds (UTC) in this clock's time."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class WallClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class AcceleratedClock:
    """Starts at ``start`` (unix s) and runs ``speed`` times faster than the wall clock."""

    def __init__(self, start: float, speed: float = 60.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start = start
        self.speed = speed
        self._wall0 = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._wall0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """Moves only when told (simulations and tests). ``sleep`` advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
