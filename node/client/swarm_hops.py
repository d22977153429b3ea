"""The client's side of one hop: an inference stream to one server for one session.

A reader task turns the server's messages into futures the route waits on: ``opened``,
``result(step)``, ``push_failed(step)`` and ``closed`` (the stream ended, errored, or the
server sent an ``error``: the route treats the server as failed and re-routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from hivemind.p2p import P2P, PeerID
from hivemind.proto import runtime_pb2

from node.referee.planner import Hop
from node.swarm.errors import PeerFailure, ProtocolError, SwarmError
from node.swarm.wire import (
    INFERENCE_HANDLER,
    ErrorReply,
    NextHop,
    Opened,
    OpenRequest,
    PushFailed,
    StepRequest,
    StepResult,
    pack,
    unpack_server,
)


class HopStream:
    def __init__(self, hop: Hop) -> None:
        self.hop = hop
        self.session_id = secrets.token_hex(32)
        self.address = ""
        self._out: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[Opened] | None = None
        self._results: dict[int, asyncio.Future[tuple[StepResult, runtime_pb2.Tensor]]] = {}
        self._push_failed: dict[int, asyncio.Future[PushFailed]] = {}
        self.closed: asyncio.Future[str] | None = None

    @property
    def peer_id(self) -> str:
        return self.hop.peer_id

    def as_next(self) -> NextHop:
        return NextHop(peer_id=self.hop.peer_id, session_id=self.session_id,
                       maddrs=list(self.hop.maddrs[:4]))

    async def open(
        self, p2p: P2P, model_id: str, max_length: int, wire_dtype: str, timeout_s: float,
        codec: str = "none",
    ) -> Opened:
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self.closed = loop.create_future()
        out = self._out

        async def requests() -> AsyncIterator[runtime_pb2.ExpertRequest]:
            while (item := await out.get()) is not None:
                yield item

        self._out.put_nowait(
            pack(
                OpenRequest(
                    session_id=self.session_id,
                    model_id=model_id,
                    start=self.hop.start,
                    end=self.hop.end,
                    max_length=max_length,
                    wire_dtype=wire_dtype,
                    codec=codec,
                )
            )
        )
        try:
            responses = await asyncio.wait_for(
                p2p.iterate_protobuf_handler(
                    PeerID.from_base58(self.peer_id),
                    INFERENCE_HANDLER,
                    requests(),
                    runtime_pb2.ExpertResponse,
                ),
                timeout_s,
            )
        except Exception as exc:
            raise PeerFailure(self.peer_id, f"cannot open a stream: {_describe(exc)}") from None
        self._reader = asyncio.create_task(self._read(responses))
        waiting: set[asyncio.Future[Any]] = {self._opened, self.closed}  # both set above
        done, _ = await asyncio.wait(
            waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if self._opened in done:
            opened = self._opened.result()
            if (opened.start, opened.end) != (self.hop.start, self.hop.end):
                raise PeerFailure(self.peer_id, "opened another span than the one asked for")
            if opened.address != self.hop.address:
                raise PeerFailure(
                    self.peer_id, f"answers as {opened.address}, announced {self.hop.address}"
                )
            self.address = opened.address
            return opened
        reason = (
            self.closed.result() if self.closed in done else f"no answer to open in {timeout_s} s"
        )
        raise PeerFailure(self.peer_id, reason)

    async def _read(self, responses: AsyncIterator[runtime_pb2.ExpertResponse]) -> None:
        assert self._opened is not None and self.closed is not None
        reason = "the server closed the stream"
        try:
            async for response in responses:
                message, tensor = unpack_server(response)
                if isinstance(message, Opened):
                    if not self._opened.done():
                        self._opened.set_result(message)
                elif isinstance(message, StepResult):
                    if tensor is None:
                        raise ProtocolError("a result without hidden states")
                    future = self._results.get(message.step)
                    if future is None or future.done():  # first answer, or a recomputation
                        future = asyncio.get_running_loop().create_future()
                        self._results[message.step] = future
                    future.set_result((message, tensor))
                elif isinstance(message, PushFailed):
                    self.push_failed(message.step)
                    pending = self._push_failed[message.step]
                    if not pending.done():
                        pending.set_result(message)
                elif isinstance(message, ErrorReply):
                    reason = f"{message.code}: {message.message}"
                    break
        except SwarmError as exc:
            reason = f"sent a malformed message: {exc}"
        except Exception as exc:
            reason = _describe(exc)
        if not self.closed.done():
            self.closed.set_result(reason)

    def result(self, step: int) -> asyncio.Future[tuple[StepResult, runtime_pb2.Tensor]]:
        if step not in self._results:
            self._results[step] = asyncio.get_running_loop().create_future()
        return self._results[step]

    def forget(self, step: int) -> None:
        """Drop any answer to ``step`` (the step is about to run again)."""
        self._results.pop(step, None)
        self._push_failed.pop(step, None)

    def push_failed(self, step: int) -> asyncio.Future[PushFailed]:
        if step not in self._push_failed:
            self._push_failed[step] = asyncio.get_running_loop().create_future()
        return self._push_failed[step]

    def send(
        self, step: int, position: int, hidden: runtime_pb2.Tensor, next_hops: list[NextHop]
    ) -> None:
        """Send a step's hidden states (already encoded for this session)."""
        message = StepRequest(
            session_id=self.session_id, step=step, position=position, next=next_hops
        )
        self._out.put_nowait(pack(message, hidden))

    async def close(self) -> None:
        self._out.put_nowait(None)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__
