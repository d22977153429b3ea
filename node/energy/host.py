"""What the energy runner loads and unloads: the ``ServingHost`` interface, and
``SpanHost``, which holds a real ``node.engine.Span`` in memory only while serving.

The inferer's request handlers wrap each session in ``host.session()``: it refuses new
sessions unless the host is online and under its current capacity, and ``drain`` waits
for the open ones (up to a timeout, after which they are left to hand over: the
client replays its inputs on another route).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from node.core.errors import HeliomeshError

log = logging.getLogger(__name__)


class HostBusyError(HeliomeshError):
    """The host refuses a session: not serving now, or at its energy capacity. Route the
    session to another inferer (or retry later)."""


class ServingHost(Protocol):
    async def load(self) -> None:
        """Load the model (blocks until it can serve)."""
        ...

    async def drain(self, timeout_s: float) -> None:
        """Accept no new sessions; wait up to ``timeout_s`` for the open ones."""
        ...

    async def unload(self) -> None:
        """Drop the model and free its memory."""
        ...

    def set_capacity(self, sessions: int) -> None:
        """How many concurrent sessions the energy budget allows now."""
        ...

    def active_sessions(self) -> int: ...


class SessionGate:
    """Counts open sessions against a capacity; the part of a host that is not the model."""

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


class SpanHost(SessionGate):
    """Blocks ``[start, end)`` of a converted model, loaded on demand."""

    def __init__(self, model_dir: Path, start: int, end: int) -> None:
        super().__init__()
        self.model_dir, self.start, self.end = model_dir, start, end
        self.span: Any = None

    async def load(self) -> None:
        from node.engine import Span

        if self.span is None:
            self.span = await asyncio.to_thread(Span, self.model_dir, self.start, self.end)
        self.accepting = True
        log.info("span %d:%d of %s loaded", self.start, self.end, self.model_dir.name)

    async def drain(self, timeout_s: float) -> None:
        self.accepting = False
        if not await self.wait_idle(timeout_s):
            log.warning("drain: %d sessions still open after %.0f s; leaving them to hand over",
                        self.open, timeout_s)

    async def unload(self) -> None:
        self.accepting = False
        self.span = None
        await asyncio.to_thread(gc.collect)
        log.info("span %d:%d unloaded", self.start, self.end)

    @property
    def loaded(self) -> bool:
        return self.span is not None
