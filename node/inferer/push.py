"""Server-to-server push: one persistent stream per next server, shared by all sessions.

A push is acknowledged as soon as the next server has queued it (not computed it), so the
pusher learns within a round trip whether forwarding worked; on failure it tells the
client, which sends the step to the next server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from hivemind.p2p import P2P, PeerID
from hivemind.proto import runtime_pb2

from node.swarm.errors import SwarmError, short_peer
from node.swarm.peer import connect
from node.swarm.wire import PUSH_HANDLER, StepRequest, pack, unpack_ack

log = logging.getLogger(__name__)


class PushError(SwarmError):
    """A pushed step was not accepted by the next server."""


class PushChannel:
    def __init__(self, p2p: P2P, peer_id: str, timeout_s: float) -> None:
        self.p2p = p2p
        self.peer_id = peer_id
        self.maddrs: list[str] = []  # from the client's NextHop: how to dial the next server
        self.timeout_s = timeout_s
        self._out: asyncio.Queue[runtime_pb2.ExpertRequest | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()

    async def _ensure_open(self) -> asyncio.Queue[runtime_pb2.ExpertRequest | None]:
        async with self._lock:
            if self._out is not None and self._reader is not None and not self._reader.done():
                return self._out
            out: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
            await connect(self.p2p, self.peer_id, self.maddrs, self.timeout_s)

            async def requests() -> AsyncIterator[runtime_pb2.ExpertRequest]:
                while (item := await out.get()) is not None:
                    yield item

            responses = await asyncio.wait_for(
                self.p2p.iterate_protobuf_handler(
                    PeerID.from_base58(self.peer_id), PUSH_HANDLER, requests(), runtime_pb2.ExpertResponse
                ),
                self.timeout_s,
            )
            self._out = out
            self._reader = asyncio.create_task(self._read(responses))
            return out

    async def _read(self, responses: AsyncIterator[runtime_pb2.ExpertResponse]) -> None:
        error: Exception = PushError(f"push stream to {short_peer(self.peer_id)} closed")
        try:
            async for response in responses:
                ack = unpack_ack(response)
                future = self._pending.pop((ack.session_id, ack.step), None)
                if future is not None and not future.done():
                    if ack.ok:
                        future.set_result(None)
                    else:
                        future.set_exception(PushError(ack.error))
        except Exception as exc:  # the stream broke: every waiting push failed
            error = PushError(f"push stream to {short_peer(self.peer_id)} failed: {exc}")
        finally:
            self._out = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()

    async def send(self, message: StepRequest, tensor: runtime_pb2.Tensor) -> asyncio.Future[None]:
        """Queue the push on the stream now; the returned future resolves on the ack
        (``PushError`` if refused, if the stream breaks, or after the timeout)."""
        try:
            out = await self._ensure_open()
        except Exception as exc:
            raise PushError(f"cannot open a push stream to {short_peer(self.peer_id)}: {exc}") from None
        key = (message.session_id, message.step)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        out.put_nowait(pack(message, tensor))
        return future

    async def wait_ack(self, message: StepRequest, future: asyncio.Future[None]) -> None:
        try:
            await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise PushError(f"{short_peer(self.peer_id)} did not accept a push in {self.timeout_s} s") from None
        finally:
            self._pending.pop((message.session_id, message.step), None)

    async def push(self, message: StepRequest, tensor: runtime_pb2.Tensor) -> None:
        """Send and wait for the ack; ``PushError`` if not accepted within the timeout."""
        await self.wait_ack(message, await self.send(message, tensor))

    async def close(self) -> None:
        if self._out is not None:
            self._out.put_nowait(None)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


class PushChannels:
    def __init__(self, p2p: P2P, timeout_s: float) -> None:
        self.p2p = p2p
        self.timeout_s = timeout_s
        self._channels: dict[str, PushChannel] = {}

    def to(self, peer_id: str, maddrs: list[str] | None = None) -> PushChannel:
        if peer_id not in self._channels:
            self._channels[peer_id] = PushChannel(self.p2p, peer_id, self.timeout_s)
        channel = self._channels[peer_id]
        if maddrs:
            channel.maddrs = maddrs
        return channel

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
