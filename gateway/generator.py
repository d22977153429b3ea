"""Runs generations for the HTTP layer: a bounded number at once, each in its own worker
thread (torch is blocking), streamed back to the event loop token by token.

Cancelling (a client disconnect, a stop string, an error) sets the job's ``cancel``
event; the worker stops before its next step and closes its route, which frees every
span session (KV cache) the generation held. ``active`` counts open generations so tests
can see the sessions freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from gateway.energy_gate import Admission
from gateway.errors import APIError
from gateway.served_model import ServedModel, as_swarm_route
from node.client import SamplingParams, generate_tokens
from node.client.detok import Detokenizer
from node.core.errors import HeliomeshError
from node.engine import Route

if TYPE_CHECKING:
    from node.client.swarm_route import SwarmRoute

log = logging.getLogger(__name__)


@dataclass
class Delta:
    """A piece of generated text; the last one has ``finish_reason`` set."""

    text: str
    completion_tokens: int
    finish_reason: str | None = None  # "stop" | "length"
    # on the last delta: (inferer address or None for the gateway's own, blocks) per hop
    route_usage: list[tuple[str | None, int]] | None = None


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # The energy-admitted route (gateway/energy_gate.py): pinned on the swarm route, its
    # slots freed once the route is closed.
    admission: Admission | None = None

    def sampling(self) -> SamplingParams:
        return SamplingParams(
            max_new_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )


class _UsageRecorder:
    """Wraps a route to note which inferers ran which blocks (for contribution accounting):
    a swarm route's hops after each step (failovers change them), else the model's spans."""

    def __init__(self, route: Route, swarm_route: SwarmRoute | None, model: ServedModel) -> None:
        self.route = route
        self.swarm_route = swarm_route
        self.used: list[tuple[str | None, int]] = [(s.address, s.end - s.start) for s in model.spans]

    def open(self, max_length: int) -> None:
        self.route.open(max_length)

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.route.step(hidden)
        if self.swarm_route is not None and self.swarm_route.hops:
            self.used = [(h.hop.address, h.hop.end - h.hop.start) for h in self.swarm_route.hops]
        return out

    def close(self) -> None:
        self.route.close()


_DONE = object()


@dataclass
class _Job:
    """One generation's hand-over from its worker thread to the event loop: tokens (then
    ``_DONE``) on ``queue``; ``cancel`` stops the worker; ``finished`` once it closed the route."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def post(self, callback: Callable[..., object], *args: object) -> None:
        """Call ``callback`` on the event loop (from the worker thread)."""
        with contextlib.suppress(RuntimeError):  # the loop closed (server shutting down)
            self.loop.call_soon_threadsafe(callback, *args)

    async def next_token(self) -> int | None:
        """The next token id; None at the end; the worker's failure raised here."""
        item = await self.queue.get()
        if item is _DONE:
            return None
        if isinstance(item, APIError | ValueError):
            raise item
        if isinstance(item, HeliomeshError):  # no route, a swarm failure, …
            raise APIError(503, f"the network could not run this request: {item}",
                           type="server_error", code="swarm_unavailable",
                           headers={"Retry-After": "10"}) from item
        if isinstance(item, Exception):
            raise item
        assert isinstance(item, int)
        return item


class Generator:
    """Admits at most ``max_concurrent`` generations; the rest wait up to ``queue_timeout_s``."""

    def __init__(self, max_concurrent: int, queue_timeout_s: float) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self.queue_timeout_s = queue_timeout_s
        self.active = 0  # generations holding a route (sessions open)
        self.completed = 0
        self.tokens_generated = 0
        self.started_at = time.time()
        self._lock = threading.Lock()

    async def generate(self, model: ServedModel, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Stream ``Delta``s; closing the iterator early cancels the generation."""
        params = request.sampling()  # ValueError here → caller answers 400
        await self._acquire()
        job = _Job(asyncio.get_running_loop())
        recorder = self._open_route(model, request.admission)
        threading.Thread(target=self._work, args=(job, model, recorder, request.prompt_ids, params),
                         name="generation", daemon=True).start()
        detok = Detokenizer(model.client.decode, request.stop)
        count = 0
        try:
            while (token := await job.next_token()) is not None:
                count += 1
                self.tokens_generated += 1
                text = detok.push(token)
                if detok.stopped:
                    job.cancel.set()
                    yield Delta(text, count, "stop", recorder.used)
                    return
                if text:
                    yield Delta(text, count)
            reason = "length" if count >= request.max_tokens else "stop"
            yield Delta(detok.flush(), count, reason, recorder.used)
            self.completed += 1
        finally:
            job.cancel.set()
            # The slot is free only once the worker has closed its route; wait for it
            # off the request's task so a disconnect is not delayed by it.
            asyncio.get_running_loop().create_task(self._release_after(job.finished, request.admission))

    async def _acquire(self) -> None:
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
        except TimeoutError:
            raise APIError(
                503,
                f"the gateway is busy (no generation slot within {self.queue_timeout_s:.0f} s); retry later",
                type="server_error",
                code="overloaded",
                headers={"Retry-After": "5"},
            ) from None

    @staticmethod
    def _open_route(model: ServedModel, admission: Admission | None) -> _UsageRecorder:
        """A fresh route of ``model``: pinned to the admitted hops, if energy-admitted."""
        route = model.route_factory()
        swarm_route = as_swarm_route(route)
        if admission is not None:
            if swarm_route is not None:
                swarm_route.pinned = list(admission.hops)  # open exactly the admitted hops
            admission.handed_over = True  # freed in _release_after, once the route is closed
        return _UsageRecorder(route, swarm_route, model)

    def _work(self, job: _Job, model: ServedModel, route: _UsageRecorder, prompt_ids: list[int],
              params: SamplingParams) -> None:
        """The worker thread: generate tokens into ``job`` until done or cancelled."""
        with self._lock:
            self.active += 1
        try:
            tokens = generate_tokens(model.client, route, prompt_ids, params)
            try:
                for token in tokens:
                    if job.cancel.is_set():
                        break
                    job.post(job.queue.put_nowait, token)
            finally:
                tokens.close()  # closes the route: frees the span sessions
        except Exception as exc:  # handed to the event loop, raised there
            job.post(job.queue.put_nowait, exc)
        finally:
            with self._lock:
                self.active -= 1
            job.post(job.queue.put_nowait, _DONE)
            job.post(job.finished.set)

    async def _release_after(self, finished: asyncio.Event, admission: Admission | None) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await finished.wait()
        self._slots.release()
        if admission is not None:
            admission.release()
