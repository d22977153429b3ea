"""The inferer's energy gate (``helio node serve --energy sunspec|fronius|fixed|trace``).

``EnergyOptions`` (in ``node.inferer.config``) builds the adapter (any registered in ``node.energy.adapters``, with
its ``--energy-opt key=value`` options: ``sunspec`` and ``fronius`` read a real inverter
or datalogger; ``fixed``: a constant power; ``trace``: real TMY irradiance replayed from
local noon on an accelerated clock) and ``ServerEnergy`` runs
``node.energy``'s ``EnergyRunner`` beside the server: the controller's decisions move
the server between ``online`` / ``draining`` / ``offline`` (announced in its DHT record),
its capacity caps the sessions the server accepts, and every report is signed
(``EnergyAttester``) and carried in the record's ``energy`` field so referees see
headroom without the chain.

Without a chain the reports are signed under ``energy_domain()`` (the zero verifying
contract). With one (``use_chain``, called once the server is staked) they are signed
under the deployed ``EnergyAttestations`` domain and a ``ChainPoster`` posts them:
every state change, else at most once per ``attest_interval_s`` of the energy clock, from
its own thread (serving never waits on the chain; a failed post is logged once per
outage and the next due report goes out as usual).

Stopping is two steps, each with a deadline, so a SIGTERM is honoured in every state:
``halt()`` first (the energy loop makes no more loads or drains of its own; at most
``RUNNER_STOP_S``), then the server drains, then ``stop()`` posts a final ``offline``
report (always, even if the last one said offline too: it tells the chain we leave) and
waits at most ``POSTER_CLOSE_S`` for it, logging its transaction hash.
``start(stopping)`` returns early, False, when ``stopping`` is set while it waits for energy.

``enforce=False`` (the demo's ``--once``): the model loads at once and never unloads;
the energy is still read, signed and announced, but it decides nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from node.crypto.eip712 import Domain
from node.energy.attest import ChainPoster, EnergyAttester, PostingPolicy, energy_domain
from node.energy.controller import Decision, EnergyController
from node.energy.reading import EnergyReading
from node.energy.runner import EnergyRunner
from node.energy.state import InfererState
from node.inferer.config import EnergyOptions, InfererConfig
from node.swarm.records import ServerState

log = logging.getLogger(__name__)

POSTER_CLOSE_S = 10.0  # on stop, wait this long for queued posts, then leave anyway
RUNNER_STOP_S = 3.0  # on stop, wait this long for a load or drain the energy loop began


class GatedServer(Protocol):
    """What the energy gate needs from the inferer it gates (``InfererServer``)."""

    address: str
    config: InfererConfig
    state: ServerState  # the gate moves it: loading, online, draining, offline
    blocks: tuple[int, int] | None

    @property
    def span_loaded(self) -> bool: ...
    async def load_span(self, start: int, end: int) -> None: ...
    async def unload_span(self) -> None: ...
    async def safe_announce(self, ttl: float | None = None) -> None: ...
    async def sessions_ended(self, timeout_s: float) -> None: ...
    def open_sessions(self) -> int: ...


class _ServerHost:
    """``node.energy.serving.ServingHost`` over a ``GatedServer``."""

    def __init__(self, server: GatedServer) -> None:
        self.server = server
        self.capacity = 0

    async def load(self) -> None:
        s = self.server
        if not s.span_loaded:
            assert s.blocks is not None
            s.state = ServerState.LOADING
            await s.safe_announce()
            await s.load_span(*s.blocks)
        s.state = ServerState.ONLINE
        await s.safe_announce()
        log.info("energy: online")

    async def drain(self, timeout_s: float) -> None:
        s = self.server
        s.state = ServerState.DRAINING
        await s.safe_announce()
        await s.sessions_ended(timeout_s)

    async def unload(self) -> None:
        s = self.server
        await s.unload_span()
        s.state = ServerState.OFFLINE
        await s.safe_announce()
        log.info("energy: offline (span unloaded)")

    def set_capacity(self, sessions: int) -> None:
        self.capacity = max(0, sessions)

    def active_sessions(self) -> int:
        return self.server.open_sessions()


class ServerEnergy:
    def __init__(self, server: GatedServer, options: EnergyOptions) -> None:
        self.server = server
        self.options = options
        self.adapter = options.adapter()
        clock = self.adapter.clock
        poll = options.poll_s
        self.controller = EnergyController(options.controller_config(), clock.now(), name=server.address,
                                           enforce=options.enforce)
        self.host = _ServerHost(server)
        self.attester = EnergyAttester(server.address, server.config.private_key, energy_domain(),
                                       extras=self._extras, policy_on_energy_clock=True,
                                       policy=PostingPolicy(min_interval_s=options.attest_interval_s))
        self.poster: ChainPoster | None = None
        self.runner = EnergyRunner(self.adapter, self.controller, self.host, clock=clock,
                                   poll_s=poll, drain_timeout_s=server.config.drain_timeout_s,
                                   on_report=self._report)
        self._last_label = ""
        self._halted = False

    def _extras(self) -> dict[str, Any]:
        blocks = self.server.blocks
        extras: dict[str, Any] = {"sessions": self.host.active_sessions(),
                                  "draw_w": self.runner.draw_w(),
                                  "clock_t": round(self.adapter.clock.now(), 1)}
        offset = getattr(self.adapter, "utc_offset_h", None)
        if offset is None:  # fixed: the zone given with --tz-offset, if any
            offset = self.options.tz_offset
        if offset is not None:
            extras["utc_offset_h"] = float(offset)
        if blocks is not None:
            extras["span"] = [blocks[0], blocks[1]]
        return extras

    def _report(self, now: float, reading: EnergyReading | None, decision: Decision) -> None:
        self.attester(now, reading, decision)
        label = decision.state.label
        if label != self._last_label:
            local = time.strftime("%H:%M", time.gmtime(now + 3600 * float(
                getattr(self.adapter, "utc_offset_h", 0.0) or 0.0)))
            headroom = f"{reading.headroom_w:.0f} W" if reading else "no reading"
            log.info("energy state %s at local %s (headroom %s, capacity %d)%s", label, local,
                     headroom, decision.capacity, f": {decision.reason}" if decision.reason else "")
            self._last_label = label

    def has_room(self) -> bool:
        """May the server open one more session now (its energy capacity)?"""
        return not self.options.enforce or self.host.active_sessions() < self.host.capacity

    def payload(self) -> str | None:
        latest = self.attester.latest
        return latest.to_bytes().decode() if latest is not None else None

    async def start(self, stopping: asyncio.Event | None = None) -> bool:
        """Start the energy loop; True once the server is online with capacity, False if
        ``stopping`` was set first (a SIGTERM while waiting for the sun)."""
        self.runner.start()
        waited = False
        while not self._ready():
            if stopping is not None and stopping.is_set():
                log.info("stop requested while waiting for energy")
                return False
            if not waited:
                log.info("waiting for energy before going online (%s)", self.adapter.describe())
                waited = True
            await asyncio.sleep(0.1)
        return True

    def _ready(self) -> bool:
        """Online, with room, and the signed report to announce says so too."""
        latest = self.attester.latest
        return (self.server.state == ServerState.ONLINE and self.has_room() and latest is not None
                and latest.report.state == int(InfererState.ONLINE))

    def use_chain(self, chain: Any, send: Any) -> None:
        """Sign under the deployed EnergyAttestations domain and post due reports with
        ``send(call)`` (e.g. ``transact(w3, account, call)``). Call before ``start``."""
        contract = chain.energy.c
        self.attester.domain = Domain.of(contract)
        self.poster = self.attester.poster = ChainPoster(contract, send)
        log.info("energy reports: signed for EnergyAttestations at %s, posted at every state "
                 "change and at most every %.0f s", contract.address, self.options.attest_interval_s)

    async def halt(self) -> None:
        """Stop the energy loop: no more loads or drains of its own (the server's shutdown
        drains). A load or drain it began gets ``RUNNER_STOP_S``, then is cancelled."""
        if self._halted:
            return
        self._halted = True
        try:
            await asyncio.wait_for(self.runner.stop(unload=False), RUNNER_STOP_S)
        except TimeoutError:
            log.warning("energy loop still busy after %.0f s (a load or drain); cancelled it",
                        RUNNER_STOP_S)

    async def stop(self) -> None:
        """Halt, then tell the chain we leave: a final ``offline`` report, its tx logged."""
        await self.halt()
        if self.poster is None:
            return
        receipts = len(self.poster.receipts)
        last = self.controller.last
        self.attester(self.adapter.clock.now(), self.runner.reading, Decision(
            InfererState.OFFLINE, None, 0, last.headroom_avg_w if last else 0.0,
            last.battery_soc if last else None, False, last.data_ok if last else False,
            "shutting down"))
        final = self.attester.latest
        if final is not None and self.attester.last_posted is not final:
            self.poster.post(final)  # not "due" when the last report said offline too
        if not await asyncio.to_thread(self.poster.close, POSTER_CLOSE_S):
            log.warning("offline report: the chain did not answer within %.0f s; leaving "
                        "without it", POSTER_CLOSE_S)
        elif len(self.poster.receipts) > receipts and not self.poster.failing:
            tx = self.poster.receipts[-1]["transactionHash"]
            log.info("offline report posted on-chain: tx %s", _hex(tx))
        else:
            log.warning("offline report not posted: %s",
                        self.poster.errors[-1] if self.poster.errors else "no receipt")

    def snapshot(self) -> dict[str, Any]:
        snap = self.runner.snapshot()
        snap["reports_due"] = self.attester.posted
        if self.poster is not None:
            snap["reports_posted"] = self.poster.reports_posted
            snap["post_failures"] = len(self.poster.errors)
        return snap


def _hex(value: Any) -> str:
    """A transaction hash (HexBytes or bytes) as 0x-prefixed hex."""
    text = value.hex() if isinstance(value, bytes | bytearray) else str(value)
    return text if text.startswith("0x") else "0x" + text
