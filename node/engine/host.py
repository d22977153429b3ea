"""``SpanHost``: everything a server needs to serve one span to many clients.

Sessions with their KV caches, validation of everything a peer sends, a KV memory
budget reserved at ``open()`` (so a running session never runs the server out of
memory), idle timeouts, and batching of concurrent steps. See docs/engine.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch

from node.engine.batching import compatible, run_group
from node.engine.codecs import WIRE_DTYPES
from node.engine.errors import (
    EngineError,
    InternalEngineError,
    InvalidHiddenStatesError,
    InvalidRequestError,
    MemoryBudgetError,
    PositionMismatchError,
    SessionExistsError,
    SessionLengthError,
    UnknownSessionError,
)
from node.engine.kvcache import fork_cache, rewind_cache
from node.engine.session import SpanSession, StepRequest, check_session_id
from node.engine.span import Span
from node.engine.worker import BatchWorker

log = logging.getLogger(__name__)

MIB = 1 << 20


@dataclass(frozen=True)
class EngineLimits:
    max_length: int = 8192  # longest session (tokens) a client may open
    max_chunk_tokens: int = 2048  # most new tokens in one step (prefill chunk)
    memory_budget_bytes: int = 2 << 30  # KV-cache bytes all open sessions may reserve
    session_timeout_s: float = 600.0  # a session idle this long is closed
    max_batch: int = 32  # most sessions in one batched forward

    def __post_init__(self) -> None:
        if min(self.max_length, self.max_chunk_tokens, self.max_batch) < 1:
            raise ValueError("max_length, max_chunk_tokens and max_batch must be positive")
        if self.memory_budget_bytes < 0 or self.session_timeout_s <= 0:
            raise ValueError("memory_budget_bytes must be ≥ 0 and session_timeout_s > 0")


class SpanHost:
    """Serves one ``Span``: ``open`` / ``step`` / ``step_batch`` / ``submit`` / ``close``."""

    def __init__(self, span: Span, limits: EngineLimits | None = None) -> None:
        self.span = span
        self.limits = limits or EngineLimits()
        self._sessions: dict[str, SpanSession] = {}
        self._expired: OrderedDict[str, str] = OrderedDict()  # id -> why, for messages
        self._reserved = 0
        self._lock = threading.RLock()
        self._worker: BatchWorker | None = None
        self._shut_down = False

    # --- sessions --------------------------------------------------------------------
    def kv_bytes(self, max_length: int) -> int:
        """Bytes ``open(…, max_length)`` reserves."""
        return self.span.kv_bytes(max_length)

    def open(self, session_id: str, max_length: int) -> SpanSession:
        check_session_id(session_id)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise InvalidRequestError(f"max_length must be a positive integer, got {max_length!r}")
        if max_length > self.limits.max_length:
            raise SessionLengthError(
                f"max_length {max_length} is over this server's limit of {self.limits.max_length} tokens"
            )
        need = self.kv_bytes(max_length)
        with self._lock:
            if session_id in self._sessions:
                raise SessionExistsError(f"session {session_id} is already open here; use a new id")
            self.sweep()
            if self._reserved + need > self.limits.memory_budget_bytes:
                free = self.limits.memory_budget_bytes - self._reserved
                raise MemoryBudgetError(
                    f"a {max_length}-token session needs {need / MIB:.1f} MiB of KV cache; "
                    f"{free / MIB:.1f} MiB of {self.limits.memory_budget_bytes / MIB:.1f} MiB are free "
                    f"({len(self._sessions)} sessions open): use a shorter max_length or another server"
                )
            session = SpanSession(session_id, max_length, self.span.new_cache(), need)
            self._sessions[session_id] = session
            self._reserved += need
            self._expired.pop(session_id, None)
            return session

    def fork(self, source_id: str, session_id: str) -> SpanSession:
        """A new session holding the same tokens as ``source_id`` (e.g. several samples
        from one prompt). Cache tensors are shared, never written in place, so the fork
        costs no copy; it reserves its own budget like ``open()``."""
        with self._lock:
            source = self.session(source_id)
            fork = self.open(session_id, source.max_length)
            fork.cache = fork_cache(
                self.span.config, self.span.kv_layers, source.cache, source.length
            )
            fork.length = source.length
            return fork

    def close(self, session_id: str, reason: str = "closed") -> None:
        """Free the session (a no-op for an unknown id)."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is not None:
                self._reserved -= session.reserved_bytes
                self._expired[session_id] = reason
                while len(self._expired) > 4096:
                    self._expired.popitem(last=False)

    def sweep(self) -> int:
        """Close sessions idle for longer than the timeout; return how many."""
        deadline = time.monotonic() - self.limits.session_timeout_s
        with self._lock:
            idle = [sid for sid, s in self._sessions.items() if s.last_used < deadline]
            for sid in idle:
                self.close(sid, f"expired after {self.limits.session_timeout_s:g} s idle")
        if idle:
            log.info("closed %d idle sessions", len(idle))
        return len(idle)

    def session(self, session_id: str) -> SpanSession:
        with self._lock:
            try:
                return self._sessions[session_id]
            except KeyError:
                why = self._expired.get(session_id)
                raise UnknownSessionError(
                    f"session {session_id!r} "
                    + (f"was {why}" if why else "was never opened here")
                    + ": open a new session and replay its inputs"
                ) from None

    def stats(self) -> dict[str, int]:
        with self._lock:
            free = self.limits.memory_budget_bytes - self._reserved
            per_token = max(self.kv_bytes(1), 1)
            return {
                "sessions": len(self._sessions),
                "reserved_bytes": self._reserved,
                "budget_bytes": self.limits.memory_budget_bytes,
                "free_tokens": max(free, 0) // per_token,
            }

    # --- steps -----------------------------------------------------------------------
    def step(self, session_id: str, hidden: torch.Tensor, position: int) -> torch.Tensor:
        """One step of one session, now, in the calling thread."""
        result = self.step_batch([StepRequest(session_id, hidden, position)])[0]
        if isinstance(result, EngineError):
            raise result
        return result

    def step_batch(self, requests: Sequence[StepRequest]) -> list[torch.Tensor | EngineError]:
        """Run ``requests`` in as few forwards as possible; one result per request, in
        order: the output hidden states, or the error for that request alone."""
        results: list[torch.Tensor | EngineError | None] = [None] * len(requests)
        with self._lock:
            for wave in _waves(requests):  # a session's second step waits for its first
                groups: list[list[tuple[int, SpanSession, torch.Tensor]]] = []
                for index in wave:
                    try:
                        session, hidden = self._admit(requests[index])
                    except EngineError as exc:
                        results[index] = exc
                        continue
                    self._place(groups, (index, session, hidden))
                for group in groups:
                    self._run(group, results)
        return [r if r is not None else InternalEngineError("no result") for r in results]

    def _admit(self, request: StepRequest) -> tuple[SpanSession, torch.Tensor]:
        """Validate one request; roll the session back if it asks to. Nothing changes
        unless every check passed."""
        session = self.session(request.session_id)
        hidden = self._checked_hidden(request.hidden)
        position = request.position
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise InvalidRequestError(f"position must be a non-negative integer, got {position!r}")
        steps = hidden.shape[1]
        if position + steps > session.max_length:
            raise SessionLengthError(
                f"session {session.session_id} would reach {position + steps} tokens, over the "
                f"max_length {session.max_length} it was opened with; open one with a larger max_length"
            )
        if position > session.length:
            raise PositionMismatchError(
                f"step at position {position} but session {session.session_id} holds "
                f"{session.length} tokens here: send the missing tokens first (replay)"
            )
        if position < session.length:
            rewind_cache(self.span.kv_layers, session.cache, session.length, position)
            session.length = position
        session.touch()
        return session, hidden.to(self.span.dtype)

    def _checked_hidden(self, hidden: object) -> torch.Tensor:
        size = self.span.hidden_size
        if not isinstance(hidden, torch.Tensor):
            raise InvalidHiddenStatesError(
                f"hidden states must be a torch.Tensor, got {type(hidden).__name__}"
            )
        if hidden.dtype not in WIRE_DTYPES.values():
            raise InvalidHiddenStatesError(
                f"hidden states must have dtype float32, bfloat16 or float16, got {hidden.dtype}"
            )
        if hidden.dim() != 3 or hidden.shape[0] != 1 or hidden.shape[2] != size:
            raise InvalidHiddenStatesError(
                f"hidden states must have shape (1, T, {size}) for {self.span.manifest.model_id}, "
                f"got {tuple(hidden.shape)}"
            )
        if not 1 <= hidden.shape[1] <= self.limits.max_chunk_tokens:
            raise InvalidHiddenStatesError(
                f"a step carries 1 to {self.limits.max_chunk_tokens} tokens, got {hidden.shape[1]}: "
                "split long prompts into chunks"
            )
        if hidden.device.type != "cpu":
            hidden = hidden.cpu()
        if not bool(torch.isfinite(hidden).all()):
            raise InvalidHiddenStatesError(
                "hidden states contain NaN or inf (an overflow upstream: for this model send "
                f"{self.span.family.wire_codec} on the wire)"
            )
        return hidden

    def _place(
        self,
        groups: list[list[tuple[int, SpanSession, torch.Tensor]]],
        item: tuple[int, SpanSession, torch.Tensor],
    ) -> None:
        _, session, hidden = item
        for group in groups:
            if len(group) >= self.limits.max_batch or any(s is session for _, s, _ in group):
                continue
            lengths = [s.length for _, s, _ in group] + [session.length]
            steps = [h.shape[1] for _, _, h in group] + [hidden.shape[1]]
            if compatible(lengths, steps):
                group.append(item)
                return
        groups.append([item])

    def _run(self, group: list[tuple[int, SpanSession, torch.Tensor]], results: list[Any]) -> None:
        sessions = [s for _, s, _ in group]
        try:
            outputs = run_group(self.span, sessions, [h for _, _, h in group])
        except Exception as exc:  # a failed forward must not take the server down
            log.exception("forward failed for sessions %s", [s.session_id for s in sessions])
            for index, session in zip([i for i, _, _ in group], sessions, strict=True):
                self.close(session.session_id, "closed after a failed forward")
                results[index] = InternalEngineError(
                    f"the forward pass failed ({type(exc).__name__}: {exc}); session "
                    f"{session.session_id} was closed: open a new one and replay"
                )
            return
        for (index, session, _), out in zip(group, outputs, strict=True):
            session.touch()
            results[index] = out

    # --- batching worker ---------------------------------------------------------------
    def submit(self, request: StepRequest) -> Future[torch.Tensor]:
        """Queue a step for the worker thread, which batches everything queued together."""
        with self._lock:
            if self._shut_down:
                future: Future[torch.Tensor] = Future()
                future.set_exception(EngineError("this span host is shut down"))
                return future
            if self._worker is None:
                name = f"span-{self.span.start}-{self.span.end}"
                self._worker = BatchWorker(self.step_batch, self.sweep, name)
            worker = self._worker
        return worker.submit(request)

    def shutdown(self) -> None:
        """Stop the worker (pending steps fail) and close every session."""
        with self._lock:
            worker, self._worker = self._worker, None
            self._shut_down = True
            for sid in list(self._sessions):
                self.close(sid, "closed at shutdown")
        if worker is not None:
            worker.stop()


def _waves(requests: Sequence[StepRequest]) -> list[list[int]]:
    """Request indexes split so that each wave holds one step per session, in order."""
    waves: list[list[int]] = []
    seen: dict[str, int] = {}
    for index, request in enumerate(requests):
        wave = seen.get(request.session_id, -1) + 1
        seen[request.session_id] = wave
        if wave == len(waves):
            waves.append([])
        waves[wave].append(index)
    return waves
