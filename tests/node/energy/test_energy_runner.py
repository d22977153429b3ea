"""The energy loop: adapter → controller → host, load and unload for real."""

from __future__ import annotations

import asyncio

import pytest
from energykit import GateHost, HostBusyError, Switchable, ticks

from node.energy import ControllerConfig, EnergyController, InfererState
from node.energy.clock import ManualClock
from node.energy.runner import EnergyRunner

CFG = ControllerConfig(window_s=30, dwell_s=60, max_dwell_s=60, stale_after_s=20)


def test_dead_adapter_drives_the_node_offline_safely() -> None:
    async def scenario() -> None:
        clock = ManualClock(1_000.0)
        adapter = Switchable(clock, available_w=2000.0, soc=0.9)
        host = GateHost()
        reports: list[tuple[float, InfererState]] = []
        runner = EnergyRunner(
            adapter, EnergyController(CFG, clock.now()), host, clock=clock, poll_s=5.0,
            drain_timeout_s=0.2, on_report=lambda t, r, d: reports.append((t, d.state)),
        )
        await ticks(runner, clock, 10)
        assert runner.state is InfererState.ONLINE and host.calls == ["load"]
        await ticks(runner, clock, 1)
        assert host.capacity == CFG.max_sessions
        with host.session():  # a session is open when the inverter dies
            await ticks(runner, clock, 1)
            assert adapter.draws[-1] > CFG.idle_w  # the runner reports its draw to the adapter
            adapter.dead = True
            await ticks(runner, clock, 6)  # 30 s > stale_after_s: fail safe
            assert runner.state is InfererState.DRAINING
            with pytest.raises(HostBusyError, match="not serving"), host.session():
                pass
            await asyncio.sleep(0.3)  # drain gives up on the open session after its timeout
        assert host.calls == ["load", "drain", "unload"]
        await ticks(runner, clock, 2)
        assert runner.state is InfererState.OFFLINE
        snap = runner.snapshot()
        assert snap["state"] == "offline" and snap["data_ok"] is False
        assert "unplugged" in snap["last_error"]
        assert reports[-1][1] is InfererState.OFFLINE
        adapter.dead = False
        await ticks(runner, clock, 20)  # power is back and the dwell is over: serves again
        assert runner.state is InfererState.ONLINE
        assert host.calls == ["load", "drain", "unload", "load"]

    asyncio.run(scenario())


def test_run_loop_polls_on_its_clock_and_stops() -> None:
    async def scenario() -> None:
        clock = ManualClock(0.0)
        adapter = Switchable(clock, available_w=2000.0)
        runner = EnergyRunner(adapter, EnergyController(CFG, 0.0), GateHost(), clock=clock, poll_s=5.0)
        runner.start()
        await runner.wait_state(InfererState.ONLINE, timeout_s=30)  # wall seconds
        await runner.stop()
        assert runner.state is InfererState.ONLINE
        assert clock.now() >= CFG.window_s  # the clock moved by poll_s per loop
        assert len(adapter.draws) >= CFG.window_s / 5.0

    asyncio.run(scenario())
