"""Server-side inference sessions: a KV cache per (client session, span part), a
cache-token budget shared by all sessions, and step bookkeeping (order, duplicates).

A session's inputs arrive on one queue from two sources: the client's own stream and
pushes from the previous server. Steps are numbered; a step is computed exactly once. A
repeat of the last step (a push and a client replay of the same step, or a client that
re-runs a step after a failover upstream) re-sends the stored result instead of
computing again, so the KV cache never holds a token twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import torch

from node.engine.session import SpanSession
from node.engine.span import Span
from node.swarm.errors import ServerBusyError, SessionError
from node.swarm.evidence import input_seed
from node.swarm.wire import NextHop


@dataclass
class Inbound:
    """One step to compute: from the client (``origin="client"``) or a push."""

    step: int
    position: int
    hidden: torch.Tensor
    data: bytes  # the wire bytes of ``hidden`` (hashed into the commitment)
    next: list[NextHop]
    origin: str


@dataclass
class ServerSession:
    session_id: str
    model_id: str
    start: int
    end: int
    max_length: int
    wire_dtype: str
    span_session: SpanSession
    client_peer: str
    inbox: asyncio.Queue[Inbound | None] = field(default_factory=asyncio.Queue)
    next_step: int = 0
    input_hash: bytes = b""
    last_result: Any = None  # (step, input_hash, result message, output tensor) of the last step

    def __post_init__(self) -> None:
        self.input_hash = input_seed(self.model_id, self.start, self.end, self.wire_dtype)

    @property
    def position(self) -> int:
        return self.span_session.position


class SessionTable:
    """All open sessions of one server, within a KV-cache token budget."""

    def __init__(self, cache_tokens: int) -> None:
        self.cache_tokens = cache_tokens
        self.sessions: dict[str, ServerSession] = {}

    @property
    def reserved(self) -> int:
        return sum(s.max_length for s in self.sessions.values())

    @property
    def tokens_left(self) -> int:
        return max(0, self.cache_tokens - self.reserved)

    def open(self, *, session_id: str, model_id: str, span: Span, max_length: int,
             wire_dtype: str, client_peer: str) -> ServerSession:
        if session_id in self.sessions:
            raise SessionError(f"session {session_id[:8]}… is already open")
        if max_length > self.tokens_left:
            raise ServerBusyError(
                f"no KV-cache room: the session needs {max_length} tokens, {self.tokens_left} "
                f"of {self.cache_tokens} are free; use another server"
            )
        session = ServerSession(
            session_id=session_id, model_id=model_id, start=span.start, end=span.end,
            max_length=max_length, wire_dtype=wire_dtype,
            span_session=SpanSession(span, max_length), client_peer=client_peer,
        )
        self.sessions[session_id] = session
        return session

    def get(self, session_id: str) -> ServerSession:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise SessionError(
                f"unknown session {session_id[:8]}…: it was never opened here or has closed; "
                "open a new session"
            ) from None

    def close(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            session.inbox.put_nowait(None)
