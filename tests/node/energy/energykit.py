"""Helpers shared by the energy tests (imported as ``energykit``: tests/ has no packages)."""

from __future__ import annotations

import asyncio

from node.energy.adapters import AdapterError, EnergyAdapter, FixedAdapter
from node.energy.clock import ManualClock
from node.energy.host import SessionGate
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
