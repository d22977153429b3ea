"""The inferer's RPC handlers: ``rpc_inference`` (one stream per client session),
``rpc_push`` (steps pushed by the previous server) and ``rpc_info`` (status and ping).

A session's steps come from the client's stream or from pushes; one task per session
takes them in order, runs them on the engine's ``SpanHost`` (which batches concurrent
sessions), pushes the output to the next server first (the critical path), then signs
the output commitment and answers the client. Bad input gets an ``error`` message naming
the problem; the session ends, the server keeps serving everyone else.

Bounded (``PeerCaps``, docs/swarm.md#caps): a session's inbox holds ``inbox_steps`` steps;
when it is full the server stops reading that client's stream (the client's writes wait:
back-pressure, nothing dropped) and a push waits up to the push timeout, then is refused
in its ack. One peer may hold ``max_sessions_per_peer`` sessions and
``max_streams_per_peer`` open streams (inference and push); beyond, the stream gets a
``busy`` error saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from eth_keys.main import lazy_key_api as keys  # what `from eth_keys import keys` gives
from eth_utils.crypto import keccak
from hivemind.p2p import P2P, P2PContext
from hivemind.proto import runtime_pb2

from node.engine.codecs import WIRE_DTYPES
from node.engine.errors import EngineError
from node.engine.fingerprint import fingerprint
from node.engine.host import EngineLimits, SpanHost
from node.engine.session import StepRequest as EngineStep
from node.engine.span import Span
from node.inferer.adversary import Adversary
from node.inferer.config import PeerCaps
from node.inferer.push import PushChannels, PushError
from node.inferer.subspan import SubSpans
from node.swarm.errors import (
    ProtocolError,
    ServerBusyError,
    SessionError,
    SwarmError,
    WrongSpanError,
    short_peer,
)
from node.swarm.evidence import (
    CommitmentSigner,
    InputChain,
    fingerprint_hash,
    input_seed,
    session_key,
)
from node.swarm.wire import (
    INFERENCE_HANDLER,
    INFO_HANDLER,
    PUSH_HANDLER,
    ErrorReply,
    NextHop,
    Opened,
    OpenRequest,
    PushAck,
    PushFailed,
    StepRequest,
    StepResult,
    decode_hidden,
    encode_hidden,
    pack_response,
    unpack_client,
)

log = logging.getLogger(__name__)


@dataclass
class Inbound:
    step: int
    position: int
    hidden: torch.Tensor
    data: bytes  # wire bytes of ``hidden``: hashed into the commitment
    next: list[NextHop]
    origin: str  # "client" or the pushing peer


@dataclass
class Session:
    """One client session on this server (blocks ``[start, end)`` of the span)."""

    session_id: str
    start: int
    end: int
    host: SpanHost
    wire_dtype: str
    codec: str  # node.engine.codecs: how hidden states are encoded both ways
    client: str
    hashes: InputChain  # the inputs so far, for the commitments
    # bounded (PeerCaps.inbox_steps): a full inbox stops the reader, it drops nothing
    inbox: asyncio.Queue[Inbound | Exception | None] = field(default_factory=asyncio.Queue)
    steps: int = 0


@dataclass
class ServiceStats:
    steps: int = 0
    tokens: int = 0
    pushes: int = 0
    push_failures: int = 0
    errors: int = 0
    compute_s: float = 0.0
    opened: int = 0


class SpanService:
    def __init__(self, *, p2p: P2P, model_dir: Path, span: Span, limits: EngineLimits,
                 private_key: str, signer: CommitmentSigner, push_timeout_s: float,
                 accepting: Callable[[], bool], caps: PeerCaps | None = None) -> None:
        self.p2p = p2p
        self.span = span
        self.model_id = span.manifest.model_id
        self.hidden_size = span.hidden_size
        self.limits = limits
        self.subspans = SubSpans(span, model_dir)
        self.hosts: dict[tuple[int, int], SpanHost] = {(span.start, span.end): SpanHost(span, limits)}
        self.adversary = Adversary.from_env()  # TEST ONLY (node/inferer/adversary.py)
        self.adversary.corrupt_span(span)
        self.key = keys.PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
        self.address = self.key.public_key.to_checksum_address()
        self.signer = signer
        self.pushes = PushChannels(p2p, push_timeout_s)
        self.push_timeout_s = push_timeout_s
        self.caps = caps or PeerCaps()
        self.streams: Counter[str] = Counter()  # open inference + push streams per peer
        self.sessions: dict[str, Session] = {}
        self.accepting = accepting  # False while draining: new sessions are refused
        self.stats = ServiceStats()
        self.info: Callable[[], dict[str, Any]] = lambda: {}
        self.on_step: Callable[[float, int], None] | None = None  # (compute s, tokens): metrics

    async def register(self) -> None:
        await self.p2p.add_protobuf_handler(
            INFERENCE_HANDLER, self.rpc_inference, runtime_pb2.ExpertRequest,
            stream_input=True, stream_output=True,
        )
        await self.p2p.add_protobuf_handler(
            PUSH_HANDLER, self.rpc_push, runtime_pb2.ExpertRequest,
            stream_input=True, stream_output=True,
        )
        await self.p2p.add_protobuf_handler(INFO_HANDLER, self.rpc_info, runtime_pb2.ExpertRequest)

    @property
    def main_host(self) -> SpanHost:
        return self.hosts[(self.span.start, self.span.end)]

    def host_for(self, start: int, end: int) -> SpanHost:
        key = (start, end)
        if key not in self.hosts:
            self.hosts[key] = SpanHost(self.subspans.get(start, end), self.limits)
        return self.hosts[key]

    def free_tokens(self) -> int:
        return int(self.main_host.stats()["free_tokens"])

    # --- rpc_info ------------------------------------------------------------------------
    async def rpc_info(self, request: runtime_pb2.ExpertRequest, context: P2PContext) -> runtime_pb2.ExpertResponse:
        body = {"sessions": len(self.sessions), **self.info()}
        return runtime_pb2.ExpertResponse(metadata=json.dumps(body).encode())

    # --- rpc_inference -------------------------------------------------------------------
    async def rpc_inference(self, requests: AsyncIterator[runtime_pb2.ExpertRequest],
                            context: P2PContext) -> AsyncIterator[runtime_pb2.ExpertResponse]:
        client = str(context.remote_id)
        if (refusal := self._enter_stream(client)) is not None:
            yield _error(refusal)
            return
        try:
            async with contextlib.aclosing(self._inference(requests, client)) as responses:
                async for response in responses:
                    yield response
        finally:
            self._leave_stream(client)

    def _enter_stream(self, peer: str) -> ServerBusyError | None:
        """Count a new stream of ``peer``; the refusal if it has too many open already."""
        if self.streams[peer] >= self.caps.max_streams_per_peer:
            self.stats.errors += 1
            log.warning("refused a stream from %s: %d open", short_peer(peer), self.streams[peer])
            return ServerBusyError(
                f"too many open streams from {short_peer(peer)}: {self.streams[peer]} (at most "
                f"{self.caps.max_streams_per_peer} per peer); close some or use another server")
        self.streams[peer] += 1
        return None

    def _leave_stream(self, peer: str) -> None:
        self.streams[peer] -= 1
        if self.streams[peer] <= 0:
            del self.streams[peer]

    async def _inference(self, requests: AsyncIterator[runtime_pb2.ExpertRequest],
                         client: str) -> AsyncGenerator[runtime_pb2.ExpertResponse, None]:
        try:
            first = await anext(requests)
        except StopAsyncIteration:
            return
        try:
            message, _ = unpack_client(first)
            if not isinstance(message, OpenRequest):
                raise ProtocolError("the first message of an inference stream must be `open`")
            session = self._open(message, client)
        except (SwarmError, EngineError) as exc:
            self.stats.errors += 1
            log.warning("refused a session from %s: %s", short_peer(client), exc)
            yield _error(exc)
            return
        log.info("session %s… from %s: blocks %d:%d, max %d tokens", session.session_id[:8],
                 short_peer(client), session.start, session.end, message.max_length)
        yield pack_response(Opened(
            session_id=session.session_id, start=session.start, end=session.end,
            address=self.address, cache_tokens_left=self.free_tokens(),
        ))
        outbox: asyncio.Queue[runtime_pb2.ExpertResponse | None] = asyncio.Queue()
        reader = asyncio.create_task(self._read_client(requests, session))
        worker = asyncio.create_task(self._work(session, outbox))
        try:
            while (response := await outbox.get()) is not None:
                yield response
        finally:
            reader.cancel()
            worker.cancel()
            self._close(session)

    def _open(self, message: OpenRequest, client: str) -> Session:
        if not self.accepting():
            raise WrongSpanError("this server is draining and accepts no new sessions; use another")
        if message.model_id != self.model_id:
            raise WrongSpanError(f"this server serves {self.model_id}, not {message.model_id}")
        if not self.span.start <= message.start < message.end <= self.span.end:
            raise WrongSpanError(
                f"blocks [{message.start}, {message.end}) are not served here: this server "
                f"holds [{self.span.start}, {self.span.end})"
            )
        if message.session_id in self.sessions:
            raise ProtocolError(f"session {message.session_id[:8]}… is already open here")
        held = sum(1 for s in self.sessions.values() if s.client == client)
        if held >= self.caps.max_sessions_per_peer:
            raise ServerBusyError(
                f"too many sessions from {short_peer(client)}: {held} open (at most "
                f"{self.caps.max_sessions_per_peer} per peer); close some or use another server")
        host = self.host_for(message.start, message.end)
        if host is not self.main_host:
            # A sub-span shares the span's memory budget: reserve there too.
            self.main_host.open(message.session_id, message.max_length)
        try:
            host.open(message.session_id, message.max_length)
        except BaseException:
            if host is not self.main_host:
                self.main_host.close(message.session_id)
            raise
        seed = input_seed(self.model_id, message.start, message.end, message.wire_dtype, message.codec)
        session = Session(message.session_id, message.start, message.end, host,
                          message.wire_dtype, message.codec, client, InputChain(seed),
                          asyncio.Queue(maxsize=self.caps.inbox_steps))
        self.sessions[session.session_id] = session
        self.stats.opened += 1
        return session

    def _close(self, session: Session) -> None:
        if self.sessions.pop(session.session_id, None) is not None:
            session.host.close(session.session_id)
            if session.host is not self.main_host:
                self.main_host.close(session.session_id)
            log.info("session %s… closed after %d steps", session.session_id[:8], session.steps)

    def _inbound(self, message: StepRequest, tensor: runtime_pb2.Tensor | None,
                 session: Session, origin: str) -> Inbound:
        hidden = decode_hidden(tensor, hidden_size=self.hidden_size, dtype=session.wire_dtype,
                               max_tokens=self.limits.max_chunk_tokens, codec=session.codec)
        return Inbound(message.step, message.position, hidden, bytes(tensor.buffer),  # type: ignore[union-attr]
                       list(message.next), origin)

    async def _read_client(self, requests: AsyncIterator[runtime_pb2.ExpertRequest],
                           session: Session) -> None:
        try:
            async for request in requests:
                message, tensor = unpack_client(request)
                if not isinstance(message, StepRequest) or message.type != "step":
                    raise ProtocolError("after `open`, a client sends only `step` messages")
                if message.session_id != session.session_id:
                    raise SessionError(
                        f"unknown session {message.session_id[:8]}… on this stream "
                        f"(it carries {session.session_id[:8]}…)")
                # a full inbox waits here: the stream is not read until the worker catches up
                await session.inbox.put(self._inbound(message, tensor, session, "client"))
        except (SwarmError, EngineError) as exc:
            await session.inbox.put(exc)
            return
        await session.inbox.put(None)  # the client closed its side: the session ends

    async def _work(self, session: Session,
                    outbox: asyncio.Queue[runtime_pb2.ExpertResponse | None]) -> None:
        try:
            while True:
                item = await session.inbox.get()
                if item is None:
                    break
                if isinstance(item, Exception):
                    raise item
                await self._step(session, item, outbox)
        except (SwarmError, EngineError) as exc:
            self.stats.errors += 1
            log.warning("session %s… ends: %s", session.session_id[:8], exc)
            outbox.put_nowait(_error(exc))
        except Exception as exc:  # a bug must not kill the server: end this session only
            self.stats.errors += 1
            log.exception("session %s… failed", session.session_id[:8])
            outbox.put_nowait(_error(exc))
        outbox.put_nowait(None)

    async def _step(self, session: Session, item: Inbound,
                    outbox: asyncio.Queue[runtime_pb2.ExpertResponse | None]) -> None:
        started = time.perf_counter()
        future = session.host.submit(EngineStep(session.session_id, item.hidden, item.position))
        output = self.adversary.output(session.session_id, item.hidden,
                                       await asyncio.wrap_future(future))
        compute_s = time.perf_counter() - started
        proto = encode_hidden(output.to(WIRE_DTYPES[session.wire_dtype]), session.codec)
        pushed = False
        if item.next:  # forward first: the next server is waiting for this
            await self._forward(item, proto, outbox)
            pushed = True
        # The input hash chains every input before this position (a replayed or repeated
        # step rolls the chain back with the cache).
        input_hash = session.hashes.hash_step(item.position, item.data)
        session.hashes.record(item.position + item.hidden.shape[1], input_hash)
        output_hash = keccak(proto.buffer)
        # of the span's own output, before the wire cast
        blob = fingerprint(self.adversary.committed(output)).to_bytes()
        digest = self.signer.digest(session_key(session.session_id), item.step, input_hash,
                                    output_hash, fingerprint_hash(blob))
        signature = self.signer.sign(self.key, digest)
        result = StepResult(
            step=item.step, position=item.position, input_hash="0x" + input_hash.hex(),
            output_hash="0x" + output_hash.hex(), signature="0x" + signature.hex(),
            compute_ms=round(compute_s * 1e3, 3), pushed=pushed, fingerprint="0x" + blob.hex(),
        )
        outbox.put_nowait(pack_response(result, proto))
        session.steps += 1
        self.stats.steps += 1
        self.stats.tokens += item.hidden.shape[1]
        self.stats.compute_s += compute_s
        if self.on_step is not None:
            self.on_step(compute_s, item.hidden.shape[1])

    async def _forward(self, item: Inbound, proto: runtime_pb2.Tensor,
                       outbox: asyncio.Queue[runtime_pb2.ExpertResponse | None]) -> None:
        """Queue the push at once (and let the stream writer send it before anything
        else runs); the ack is awaited in the background."""
        target, rest = item.next[0], item.next[1:]
        message = StepRequest(type="push", session_id=target.session_id, step=item.step,
                              position=item.position, next=rest)
        channel = self.pushes.to(target.peer_id, target.maddrs)

        def failed(exc: Exception) -> None:
            self.stats.push_failures += 1
            log.warning("push to %s failed: %s", short_peer(target.peer_id), exc)
            outbox.put_nowait(pack_response(PushFailed(step=item.step, peer_id=target.peer_id,
                                                       error=str(exc)[:2000])))

        try:
            ack = await channel.send(message, proto)
        except PushError as exc:
            failed(exc)
            return

        async def acknowledged() -> None:
            try:
                await channel.wait_ack(message, ack)
                self.stats.pushes += 1
            except PushError as exc:
                failed(exc)

        asyncio.create_task(acknowledged())
        await asyncio.sleep(0)  # the stream's writer task sends the push now

    # --- rpc_push --------------------------------------------------------------------------
    async def rpc_push(self, requests: AsyncIterator[runtime_pb2.ExpertRequest],
                       context: P2PContext) -> AsyncIterator[runtime_pb2.ExpertResponse]:
        origin = str(context.remote_id)
        if (refusal := self._enter_stream(origin)) is not None:
            yield pack_response(PushAck(session_id="", step=0, ok=False, error=str(refusal)))
            return
        try:
            async with contextlib.aclosing(self._pushes(requests, origin)) as responses:
                async for response in responses:
                    yield response
        finally:
            self._leave_stream(origin)

    async def _pushes(self, requests: AsyncIterator[runtime_pb2.ExpertRequest],
                      origin: str) -> AsyncGenerator[runtime_pb2.ExpertResponse, None]:
        async for request in requests:
            session_id, step = "", -1
            try:
                message, tensor = unpack_client(request)
                if not isinstance(message, StepRequest) or message.type != "push":
                    raise ProtocolError("a push stream carries only `push` messages")
                session_id, step = message.session_id, message.step
                session = self.sessions.get(message.session_id)
                if session is None:
                    raise SessionError(f"unknown session {message.session_id[:8]}… (not open here)")
                await self._push_into(session, self._inbound(message, tensor, session, origin))
                ack = PushAck(session_id=session_id, step=step, ok=True)
            except (SwarmError, EngineError) as exc:
                self.stats.errors += 1
                log.warning("refused a push from %s: %s", short_peer(origin), exc)
                ack = PushAck(session_id=session_id, step=max(step, 0), ok=False, error=str(exc)[:2000])
            yield pack_response(ack)

    async def _push_into(self, session: Session, item: Inbound) -> None:
        """Back-pressure on a push stream: wait for room (the stream is not read meanwhile),
        at most the push timeout; then refuse the push rather than drop it silently."""
        try:
            await asyncio.wait_for(session.inbox.put(item), self.push_timeout_s)
        except TimeoutError:
            raise ServerBusyError(
                f"session {session.session_id[:8]}… has {session.inbox.qsize()} steps queued "
                f"(at most {self.caps.inbox_steps}) and no room freed in {self.push_timeout_s:g} s; "
                "push refused") from None

    async def shutdown(self) -> None:
        await self.pushes.close()
        for session in list(self.sessions.values()):
            while session.inbox.full():  # make room for the end marker: the session ends
                session.inbox.get_nowait()
            session.inbox.put_nowait(None)
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.shutdown()


# Engine error codes (docs/engine.md) → wire error codes; swarm errors carry their own.
_ENGINE_CODES = {
    "invalid_request": "bad_request", "invalid_hidden": "bad_request", "codec": "bad_request",
    "session_exists": "bad_request", "unknown_session": "unknown_session",
    "position_mismatch": "out_of_order", "memory_budget": "busy", "session_length": "busy",
}


def _error(exc: Exception) -> runtime_pb2.ExpertResponse:
    code = getattr(exc, "code", "internal")
    kind = code if isinstance(exc, SwarmError) else _ENGINE_CODES.get(code, "internal")
    return pack_response(ErrorReply(code=kind, message=str(exc)[:2000]))
