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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import torch

from gateway.detok import IncrementalDecoder, StopMatcher
from gateway.errors import APIError
from gateway.routes import ServedModel
from node.client import SamplingParams, generate_tokens
from node.core.errors import HeliomeshError
from node.engine import Route

log = logging.getLogger(__name__)

_DONE = object()


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
    # The energy-admitted route (gateway/energy.py ``Admission``): pinned on the swarm
    # route, its slots freed once the route is closed.
    admission: Any = None

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

    def __init__(self, route: Route, model: ServedModel) -> None:
        self.route = route
        self.used: list[tuple[str | None, int]] = [(s.address, s.end - s.start) for s in model.spans]

    def open(self, max_length: int) -> None:
        self.route.open(max_length)

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.route.step(hidden)
        hops = getattr(self.route, "hops", None)
        if hops:
            self.used = [(h.hop.address, h.hop.end - h.hop.start) for h in hops]
        return out

    def close(self) -> None:
        self.route.close()


class Engine:
    """Admits at most ``max_concurrent`` generations; the rest wait up to ``queue_timeout_s``."""

    def __init__(self, max_concurrent: int, queue_timeout_s: float) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self.queue_timeout_s = queue_timeout_s
        self.active = 0  # generations holding a route (sessions open)
        self.completed = 0
        self.tokens_generated = 0
        self.started_at = time.time()
        self._lock = threading.Lock()

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

    async def generate(self, model: ServedModel, request: GenerationRequest) -> AsyncIterator[Delta]:
        """Stream ``Delta``s; closing the iterator early cancels the generation."""
        params = request.sampling()  # ValueError here → caller answers 400
        await self._acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        finished = asyncio.Event()

        def post(callback: Any, *args: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed (server shutting down)
                loop.call_soon_threadsafe(callback, *args)

        def work() -> None:
            with self._lock:
                self.active += 1
            try:
                tokens = generate_tokens(model.client, recorder, request.prompt_ids, params)
                try:
                    for token in tokens:
                        if cancel.is_set():
                            break
                        post(queue.put_nowait, token)
                finally:
                    tokens.close()  # closes the route: frees the span sessions
            except Exception as exc:  # handed to the event loop, raised there
                post(queue.put_nowait, exc)
            finally:
                with self._lock:
                    self.active -= 1
                post(queue.put_nowait, _DONE)
                post(finished.set)

        route = model.route_factory()
        admission = request.admission
        if admission is not None:
            if hasattr(route, "pinned"):
                route.pinned = admission.hops  # open exactly the admitted hops
            admission.handed_over = True  # freed below, once the worker closed the route
        recorder = _UsageRecorder(route, model)
        worker = threading.Thread(target=work, name="generation", daemon=True)
        worker.start()
        decoder = IncrementalDecoder(model.client.tokenizer)
        stops = StopMatcher(list(request.stop))
        count = 0
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, APIError | ValueError):
                    raise item
                if isinstance(item, HeliomeshError):  # no route, a swarm failure, …
                    raise APIError(503, f"the network could not run this request: {item}",
                                   type="server_error", code="swarm_unavailable",
                                   headers={"Retry-After": "10"}) from item
                if isinstance(item, Exception):
                    raise item
                count += 1
                self.tokens_generated += 1
                text = stops.feed(decoder.push(int(item)))  # type: ignore[call-overload]
                if stops.stopped:
                    cancel.set()
                    yield Delta(text, count, "stop", recorder.used)
                    return
                if text:
                    yield Delta(text, count)
            reason = "length" if count >= request.max_tokens else "stop"
            yield Delta(stops.flush(), count, reason, recorder.used)
            self.completed += 1
        finally:
            cancel.set()
            # The slot is free only once the worker has closed its route; wait for it
            # off the request's task so a disconnect is not delayed by it.
            asyncio.get_running_loop().create_task(self._release_after(finished, admission))

    async def _release_after(self, finished: asyncio.Event, admission: Any = None) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await finished.wait()
        self._slots.release()
        if admission is not None:
            admission.release()
