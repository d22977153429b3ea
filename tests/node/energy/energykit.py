"""Helpers shared by the energy tests (imported as ``energykit``: tests/ has no packages)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from node.core.errors import HeliomeshError
from node.energy.adapters import AdapterError, EnergyAdapter, FixedAdapter
from node.energy.clock import ManualClock
from node.energy.reading import EnergyReading
from node.energy.runner import EnergyRunner


class Switchable(EnergyAdapter):
    """A fixed adapter that can be unplugged (raises like a dead inverter)."""

    name = "switchable"

    def __init__(self, clock: ManualClock, available_w: float, soc: float | None = None) -> None:
        self.inner = FixedAdapter(available_w=available_w, battery_soc=soc, clock=clock)
        self.clock = clock
        self.dead = False
        self.draws: list[float] = []

    def read(self, self_draw_w: float = 0.0) -> EnergyReading:
        self.draws.append(self_draw_w)
        if self.dead:
            raise AdapterError("inverter unreachable (unplugged in the test)")
        return self.inner.read(self_draw_w)


class HostBusyError(HeliomeshError):
    """The fake host refuses a session: not serving now, or at its energy capacity."""


class SessionGate:
    """Counts open sessions against a capacity (what the fake host has instead of a model)."""

    def __init__(self) -> None:
        self.accepting = False
        self.capacity = 0
        self.open = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def set_capacity(self, sessions: int) -> None:
        self.capacity = max(0, sessions)

    def active_sessions(self) -> int:
        return self.open

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        if not self.accepting:
            raise HostBusyError("this inferer is not serving right now (energy state); use another route")
        if self.open >= self.capacity:
            raise HostBusyError(
                f"this inferer is at its energy capacity ({self.capacity} sessions); use another route"
            )
        self.open += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.open -= 1
            if self.open == 0:
                self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            return False


class GateHost(SessionGate):
    """A host whose 'model' is a flag: loads and unloads instantly."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def load(self) -> None:
        self.calls.append("load")
        self.accepting = True

    async def drain(self, timeout_s: float) -> None:
        self.calls.append("drain")
        self.accepting = False
        await self.wait_idle(timeout_s)

    async def unload(self) -> None:
        self.calls.append("unload")


async def ticks(runner: EnergyRunner, clock: ManualClock, n: int, step: float = 5.0) -> None:
    for _ in range(n):
        await runner.tick()
        await asyncio.sleep(0)  # let load/drain tasks run
        clock.advance(step)
