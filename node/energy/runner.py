"""``EnergyRunner``: the inferer's energy loop. Every ``poll_s`` it reads the adapter (in a
worker thread), feeds the controller, carries out its decisions on the ``ServingHost``
(load; drain then unload) as background tasks so polling never stops, hands each
report to an optional ``on_report`` hook (attestation posting, DHT record), and keeps
a JSON-ready ``snapshot()`` for the dashboard.

A controller built with ``enforce=False`` (demo ``--once``, benchmarks) loads at once and
never unloads: the energy data are still read and reported, but they decide nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from node.energy.adapters.base import AdapterError, EnergyAdapter
from node.energy.clock import Clock, WallClock
from node.energy.controller import Decision, EnergyController
from node.energy.reading import EnergyReading
from node.energy.serving import ServingHost
from node.energy.state import InfererState

log = logging.getLogger(__name__)

ReportHook = Callable[[float, EnergyReading | None, Decision], None]


class EnergyRunner:
    def __init__(
        self,
        adapter: EnergyAdapter,
        controller: EnergyController,
        host: ServingHost,
        *,
        clock: Clock | None = None,
        poll_s: float = 5.0,  # seconds (of the clock) between adapter reads
        drain_timeout_s: float = 120.0,  # wait this long for open sessions before unloading
        on_report: ReportHook | None = None,
    ) -> None:
        self.adapter = adapter
        self.controller = controller
        self.host = host
        self.clock = clock or getattr(adapter, "clock", None) or WallClock()
        self.poll_s = poll_s
        self.drain_timeout_s = drain_timeout_s
        self.on_report = on_report
        self.reading: EnergyReading | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._action: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def state(self) -> InfererState:
        return self.controller.state

    def draw_w(self) -> float:
        return self.controller.config.draw_w(self.state, self.host.active_sessions())

    # --- one poll ---------------------------------------------------------------------
    async def tick(self) -> Decision:
        draw = self.draw_w()
        try:
            self.reading = await asyncio.to_thread(self.adapter.read, draw)
            self.last_error = None
        except AdapterError as exc:
            self.reading = None
            self.last_error = str(exc)
        except Exception as exc:  # a buggy adapter must not kill the loop: fail safe
            self.reading = None
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("energy adapter %s raised", self.adapter.name)
        now = self.clock.now()
        decision = self.controller.observe(now, self.reading)
        if decision.action == "load":
            self._action = asyncio.create_task(self._load())
        elif decision.action == "drain":
            self._action = asyncio.create_task(self._drain())
        self.host.set_capacity(decision.capacity)
        if self.on_report is not None:
            try:
                self.on_report(now, self.reading, decision)
            except Exception:  # posting must never stop the energy loop
                log.exception("energy report hook failed")
        return decision

    async def _load(self) -> None:
        try:
            await self.host.load()
        except Exception as exc:
            log.exception("loading the model failed")
            self.controller.load_failed(self.clock.now(), str(exc))
            return
        self.controller.loaded(self.clock.now())  # capacity follows at the next poll

    async def _drain(self) -> None:
        try:
            await self.host.drain(self.drain_timeout_s)
        finally:
            await self.host.unload()
            self.controller.unloaded(self.clock.now())

    # --- the loop ---------------------------------------------------------------------
    async def run(self) -> None:
        while not self._stop.is_set():
            await self.tick()
            sleeper = asyncio.ensure_future(self.clock.sleep(self.poll_s))
            stopper = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for fut in (sleeper, stopper):
                fut.cancel()

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run())
        return self._task

    async def stop(self, unload: bool = True) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._action is not None and not self._action.done():
            with contextlib.suppress(Exception):
                await self._action
        if unload and self.state.loaded:
            await self.host.unload()
        self.adapter.close()

    async def wait_state(self, state: InfererState, timeout_s: float) -> None:
        """Wait (wall time) until the controller reaches ``state``."""
        async def _poll() -> None:
            while self.state is not state:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(_poll(), timeout_s)

    # --- dashboard --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The current energy state, JSON-ready (for the swarm dashboard)."""
        d = self.controller.last
        r = self.reading
        return {
            "state": self.state.label,
            "state_since": self.controller.state_since,
            "adapter": self.adapter.describe(),
            "available_w": r.available_w if r else None,
            "headroom_w": r.headroom_w if r else None,
            "headroom_avg_w": d.headroom_avg_w if d else None,
            "battery_soc": r.battery_soc if r else None,
            "on_battery": d.on_battery if d else False,
            "capacity": d.capacity if d else 0,
            "sessions": self.host.active_sessions(),
            "draw_w": self.draw_w(),
            "data_ok": d.data_ok if d else False,
            "last_error": self.last_error,
            "timestamp": self.clock.now(),
            "enforced": self.controller.enforce,
        }

