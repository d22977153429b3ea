"""Energy admission: a new session over a swarm-served model gets a route only while the
swarm's verified energy allows it (the referee's inferer-to-user ratio).

``EnergyGate.admit(session, max_length)`` plans a route with the model's ``SwarmClient``
(which verifies the inferers' signed DHT energy claims on the way), then takes one slot
on every inferer of it (``EnergyScheduler.admit``: at most ``min(the inferer's energy
capacity, users_per_inferer)`` sessions each). The route is pinned, so the generation
opens exactly the hops that were admitted. A session that does not fit waits in the
referee's FIFO ``AdmissionQueue`` for up to ``queue_s`` (re-planned every ``poll_s``,
and at once when a session ends); then it gets ``AtCapacityError``, which the HTTP layer
answers with 503 ``at_capacity`` before anything is charged.

Inferers without a fresh verified claim (a swarm without ``--energy``) are not gated: a
route with no such claim at all is admitted without counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from node.referee.energy import AtCapacityError
from node.referee.energy_admission import AdmissionQueue
from node.referee.planner import Hop

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.5  # queued sessions are re-planned this often


@dataclass
class Admission:
    """A session's admitted route; ``release()`` frees its slots (idempotent)."""

    session: str
    hops: list[Hop]  # pinned on the generation's SwarmRoute
    gated: tuple[str, ...]  # inferers whose slots it holds (empty: no energy data)
    _release: Callable[[str], None]
    released: bool = False
    handed_over: bool = False  # the generator releases it once its route is closed

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._release(self.session)


@dataclass
class _Waiting:
    max_length: int
    future: asyncio.Future[Admission]


@dataclass
class EnergyGate:
    client: Any  # node.client.swarm_client.SwarmClient (its .energy verifies the claims)
    model_id: str
    num_blocks: int
    queue_s: float = 10.0  # how long a session may wait for a slot before "at capacity"
    ratio: int | None = None  # users per inferer at most (None: the client's scheduler's)
    poll_s: float = DEFAULT_POLL_S
    clock: Callable[[], float] = time.time
    admitted: int = 0
    refused: int = 0
    _queue: AdmissionQueue = field(init=False)
    _waiting: dict[str, _Waiting] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _wake: asyncio.Event | None = field(default=None, init=False)
    _pump: asyncio.Task[None] | None = field(default=None, init=False)
    _ids: Any = field(default_factory=itertools.count, init=False)

    def __post_init__(self) -> None:
        self._queue = AdmissionQueue(max_wait_s=self.queue_s)
        config = self.scheduler.config
        if self.ratio is not None and self.ratio != config.users_per_inferer:
            # The gateway's ratio rules the scheduler its client routes with (the
            # planner's penalty reads the same slots).
            self.scheduler.config = self.scheduler.book.config = replace(config, users_per_inferer=self.ratio)

    @property
    def scheduler(self) -> Any:
        return self.client.energy.scheduler

    @property
    def users_per_inferer(self) -> int:
        return int(self.scheduler.config.users_per_inferer)

    def new_session(self) -> str:
        return f"gw-{next(self._ids)}"

    @property
    def waiting(self) -> int:
        return len(self._queue)

    # --- admission (on the event loop; planning runs in a worker thread) ---------------
    async def admit(self, session: str, max_length: int) -> Admission:
        """An admitted route for ``session``, at once or after waiting in the queue;
        ``AtCapacityError`` when none frees up in ``queue_s``; ``MissingBlocksError``
        (a ``HeliomeshError``) when no server covers the model at all."""
        if not len(self._queue):  # FIFO: nobody overtakes the sessions already waiting
            admission = await asyncio.to_thread(self._try, session, max_length)
            if admission is not None:
                return admission
        self._queue.push(session, self.clock())  # AtCapacityError if the queue itself is full
        waiting = _Waiting(max_length, asyncio.get_running_loop().create_future())
        self._waiting[session] = waiting
        log.info("%s: the swarm is at its energy capacity; %s waits (%d in the queue)",
                 self.model_id, session, len(self._queue))
        self._ensure_pump()
        try:
            return await waiting.future
        except asyncio.CancelledError:  # the client went away while waiting
            self._queue.cancel(session)
            self._waiting.pop(session, None)
            raise

    def _try(self, session: str, max_length: int) -> Admission | None:
        """Plan a route and take its slots (in a worker thread); None if it is full."""
        client = self.client
        hops = client.loop.run(client.plan(self.model_id, self.num_blocks, 0, self.num_blocks,
                                           max_length=max_length))
        now = self.clock()
        book = self.scheduler.book
        max_age = self.scheduler.config.max_age_s
        gated = tuple(dict.fromkeys(
            h.address for h in hops
            if (c := book.claims.get(h.address)) is not None and now - c.timestamp <= max_age))
        if gated:
            with self._lock:
                try:
                    self.scheduler.admit(session, gated, now)
                except AtCapacityError as exc:
                    log.debug("%s does not fit: %s", session, exc)
                    return None
        self.admitted += 1
        return Admission(session, list(hops), gated, self._release)

    def _release(self, session: str) -> None:
        with self._lock:
            self.scheduler.release(session, self.clock())
        if self._wake is not None:
            self._wake.set()  # a slot may be free: try the queue now

    # --- the queue ----------------------------------------------------------------------
    def _ensure_pump(self) -> None:
        if self._pump is None or self._pump.done():
            self._wake = asyncio.Event()
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def _run_pump(self) -> None:
        assert self._wake is not None
        while len(self._queue):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            for session in self._queue.expire(self.clock()):
                self.refused += 1
                waiting = self._waiting.pop(session, None)
                if waiting is not None and not waiting.future.done():
                    waiting.future.set_exception(AtCapacityError(
                        f"the swarm serving {self.model_id} is at its energy capacity "
                        f"({self.users_per_inferer} users per inferer at most, fewer while "
                        f"the sun is low) and no slot freed up in {self.queue_s:.0f} s"))
            for session in self._queue.waiting():  # first come first; stop at the first misfit
                waiting = self._waiting.get(session)
                if waiting is None:
                    self._queue.cancel(session)
                    continue
                try:
                    admission = await asyncio.to_thread(self._try, session, waiting.max_length)
                except Exception as exc:  # no route right now (a server left): keep waiting
                    log.debug("re-planning %s failed: %s", session, exc)
                    admission = None
                if admission is None:
                    break
                self._queue.cancel(session)
                self._waiting.pop(session, None)
                if waiting.future.done():  # cancelled while it was being admitted
                    admission.release()
                else:
                    waiting.future.set_result(admission)

    def describe(self) -> dict[str, Any]:
        """For the dashboard: the ratio and what the gate holds now."""
        return {"users_per_inferer": self.users_per_inferer, "active": self.scheduler.active,
                "waiting": len(self._queue), "admitted": self.admitted, "refused": self.refused,
                "queue_s": self.queue_s}
