"""An inferer in this process (real SmolLM2 blocks 0:4, real hivemind peers on loopback),
probed with raw protocol messages: bad input gets a clear error, the server keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from eth_utils.crypto import keccak
from hivemind.p2p import PeerID
from hivemind.proto import runtime_pb2

from node.chain.devkeys import DEV_ACCOUNTS
from node.engine import Span
from node.engine.fingerprint import fingerprint
from node.engine.host import SpanHost
from node.inferer.config import InfererConfig
from node.inferer.server import InfererServer
from node.swarm.evidence import (
    CommitmentSigner,
    chain_input,
    default_domain,
    fingerprint_hash,
    input_seed,
    session_key,
)
from node.swarm.peer import LoopThread, Peer, PeerConfig, start_peer
from node.swarm.wire import OpenRequest, StepRequest, encode_hidden, pack, unpack_server

pytestmark = [pytest.mark.model, pytest.mark.slow]
MODEL = "smollm2-135m-instruct"
KEY = DEV_ACCOUNTS[1]


@pytest.fixture(scope="module")
def served(smollm2_dir: Path) -> Iterator[tuple[LoopThread, InfererServer, Peer]]:
    torch.set_num_threads(1)
    loop = LoopThread("test-service")
    config = InfererConfig(model_dir=smollm2_dir, blocks=(0, 4), private_key=KEY.private_key,
                           refresh_s=30, cache_tokens=256, max_chunk_tokens=64,
                           throughput_override=10.0)
    server = InfererServer(config)
    loop.run(server.start(), timeout=120)
    maddrs = loop.run(server.peer.maddrs())  # type: ignore[union-attr]
    client = loop.run(start_peer(PeerConfig(initial_peers=maddrs, client_mode=True)), timeout=60)
    yield loop, server, client
    loop.run(client.shutdown(), timeout=30)
    loop.run(server.shutdown(), timeout=60)
    loop.stop()


async def _exchange(client: Peer, server_id: str, messages: list[runtime_pb2.ExpertRequest],
                    handler: str = "heliomesh.inference") -> list[Any]:
    """Send ``messages`` on one stream; collect every answer until the server ends it."""
    queue: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)

    async def requests() -> AsyncIterator[runtime_pb2.ExpertRequest]:
        while (item := await queue.get()) is not None:
            yield item

    responses = await client.p2p.iterate_protobuf_handler(
        PeerID.from_base58(server_id), handler, requests(), runtime_pb2.ExpertResponse)
    answers: list[Any] = []
    try:
        while len(answers) < len(messages):
            response = await asyncio.wait_for(anext(responses), 20)
            answers.append(response)
            if json.loads(response.metadata).get("type") == "error":
                break  # the server ends the stream after an error: stop reading
    except (StopAsyncIteration, ConnectionError):  # the server ended the stream
        pass
    queue.put_nowait(None)
    return answers


def _open(start: int = 0, end: int = 4, sid: str | None = None, **extra: Any) -> tuple[str, runtime_pb2.ExpertRequest]:
    sid = sid or secrets.token_hex(32)
    return sid, pack(OpenRequest(session_id=sid, model_id=MODEL, start=start, end=end, max_length=32, **extra))


def _step(sid: str, hidden: torch.Tensor, step: int = 0, position: int = 0) -> runtime_pb2.ExpertRequest:
    return pack(StepRequest(session_id=sid, step=step, position=position), hidden)


def _kinds(answers: list[Any]) -> list[str]:
    return [json.loads(a.metadata)["type"] for a in answers]


def test_step_output_equals_the_span_and_carries_a_valid_commitment(served: Any, smollm2_dir: Path) -> None:
    loop, server, client = served
    hidden = torch.randn(1, 5, 576)
    sid, opener = _open()
    answers = loop.run(_exchange(client, server.peer.peer_id, [opener, _step(sid, hidden)]))
    assert _kinds(answers) == ["opened", "result"]
    result, proto = unpack_server(answers[1])
    expected = SpanHost(Span(smollm2_dir, 0, 4))
    expected.open("x", 32)
    reference = expected.step("x", hidden, 0)
    got = torch.frombuffer(bytearray(proto.buffer), dtype=torch.float32).reshape(1, 5, 576)
    assert torch.equal(got, reference)
    input_hash = chain_input(input_seed(MODEL, 0, 4, "float32"), encode_hidden(hidden).buffer)
    assert result.input_hash == "0x" + input_hash.hex()
    assert result.output_hash == "0x" + keccak(proto.buffer).hex()
    # the signed fingerprint is the span output's (node.engine.fingerprint)
    blob = bytes.fromhex(result.fingerprint[2:])
    assert blob == fingerprint(reference).to_bytes()
    signer = CommitmentSigner(default_domain())
    digest = signer.digest(session_key(sid), 0, input_hash, keccak(proto.buffer), fingerprint_hash(blob))
    assert signer.recover(digest, bytes.fromhex(result.signature[2:])) == KEY.address


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (lambda sid: [_open(0, 5, sid)[1]], "wrong_span"),  # blocks it does not serve
        (lambda sid: [_step(sid, torch.zeros(1, 1, 576))], "bad_request"),  # step before open
        (lambda sid: [_open(sid=sid)[1], _step(sid, torch.zeros(1, 1, 575))], "bad_request"),
        (lambda sid: [_open(sid=sid)[1], _step(sid, torch.zeros(1, 65, 576))], "bad_request"),
        (lambda sid: [_open(sid=sid)[1], _step(sid, torch.zeros(1, 1, 576), position=3)], "out_of_order"),
        (lambda sid: [_open(sid=sid)[1], _step("cd" * 32, torch.zeros(1, 1, 576))], "unknown_session"),
        (lambda sid: [_open(sid=sid)[1], runtime_pb2.ExpertRequest(metadata=b"{nonsense")], "bad_request"),
        (lambda sid: [pack(OpenRequest(session_id=sid, model_id=MODEL, start=0, end=4, max_length=10_000))], "busy"),
        (lambda sid: [pack(OpenRequest(session_id=sid, model_id="other-model", start=0, end=4, max_length=8))], "wrong_span"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(served: Any, messages: Any, code: str) -> None:
    loop, server, client = served
    sid = secrets.token_hex(32)
    answers = loop.run(_exchange(client, server.peer.peer_id, messages(sid)))
    errors = [json.loads(a.metadata) for a in answers if json.loads(a.metadata)["type"] == "error"]
    assert errors and errors[-1]["code"] == code, answers
    assert errors[-1]["message"]
    # still serving: a fresh session works
    good_sid, opener = _open()
    again = loop.run(_exchange(client, server.peer.peer_id, [opener, _step(good_sid, torch.randn(1, 2, 576))]))
    assert _kinds(again) == ["opened", "result"]
    deadline = time.monotonic() + 10  # the client ended its stream: the server closes the session
    while good_sid in server.service.sessions:
        assert time.monotonic() < deadline, "the session stayed open after the client left"
        time.sleep(0.05)


def test_push_to_unknown_session_is_refused(served: Any) -> None:
    loop, server, client = served
    push = pack(StepRequest(type="push", session_id="ef" * 32, step=0, position=0), torch.zeros(1, 1, 576))
    answers = loop.run(_exchange(client, server.peer.peer_id, [push], handler="heliomesh.push"))
    ack = json.loads(answers[0].metadata)
    assert ack["ok"] is False and "unknown session" in ack["error"]


def test_info_answers_with_the_signed_state(served: Any) -> None:
    loop, server, client = served
    response = loop.run(client.p2p.call_protobuf_handler(
        PeerID.from_base58(server.peer.peer_id), "heliomesh.info", runtime_pb2.ExpertRequest(),
        runtime_pb2.ExpertResponse))
    body = json.loads(response.metadata)
    assert body["record"]["start"] == 0 and body["record"]["end"] == 4
    assert body["record"]["state"] == "online"


class _Stream:
    """An inference (or push) stream held open: ``send`` more, ``answer`` the next reply."""

    def __init__(self, client: Peer, server_id: str, handler: str = "heliomesh.inference") -> None:
        self.queue: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
        self.client, self.server_id, self.handler = client, server_id, handler
        self.responses: Any = None

    async def start(self, *messages: runtime_pb2.ExpertRequest) -> _Stream:
        async def requests() -> AsyncIterator[runtime_pb2.ExpertRequest]:
            while (item := await self.queue.get()) is not None:
                yield item

        self.send(*messages)
        self.responses = await self.client.p2p.iterate_protobuf_handler(
            PeerID.from_base58(self.server_id), self.handler, requests(), runtime_pb2.ExpertResponse)
        return self

    def send(self, *messages: runtime_pb2.ExpertRequest) -> None:
        for message in messages:
            self.queue.put_nowait(message)

    async def answer(self, timeout: float = 20) -> dict[str, Any]:
        return dict(json.loads((await asyncio.wait_for(anext(self.responses), timeout)).metadata))

    def close(self) -> None:
        self.queue.put_nowait(None)


@pytest.fixture
def caps(served: Any) -> Iterator[Callable[..., None]]:
    """``caps(max_sessions_per_peer=2, …)``: tighter caps on the running service, restored after."""
    service = served[1].service
    before = service.caps

    def tighten(**changes: int) -> None:
        service.caps = dataclasses.replace(before, **changes)

    yield tighten
    service.caps = before


def _wait_closed(server: InfererServer, sids: list[str]) -> None:
    deadline = time.monotonic() + 10
    while any(sid in server.service.sessions for sid in sids):
        assert time.monotonic() < deadline, "sessions stayed open after their streams ended"
        time.sleep(0.05)


def test_sessions_per_peer_are_capped_with_a_clear_error(served: Any, caps: Any) -> None:
    loop, server, client = served
    caps(max_sessions_per_peer=2)

    async def scenario() -> tuple[dict[str, Any], list[str]]:
        held, sids = [], []
        for _ in range(2):
            sid, opener = _open()
            stream = await _Stream(client, server.peer.peer_id).start(opener)
            assert (await stream.answer())["type"] == "opened"
            held.append(stream)
            sids.append(sid)
        third = await _Stream(client, server.peer.peer_id).start(_open()[1])
        refusal = await third.answer()
        for stream in [*held, third]:
            stream.close()
        return refusal, sids

    refusal, sids = loop.run(scenario(), timeout=60)
    assert refusal["type"] == "error" and refusal["code"] == "busy"
    assert "too many sessions" in refusal["message"] and "at most 2 per peer" in refusal["message"]
    _wait_closed(server, sids)
    sid, opener = _open()  # under the cap again: served
    assert _kinds(loop.run(_exchange(client, server.peer.peer_id, [opener, _step(sid, torch.randn(1, 1, 576))]))) == ["opened", "result"]


def test_streams_per_peer_are_capped_with_a_clear_error(served: Any, caps: Any) -> None:
    loop, server, client = served
    caps(max_streams_per_peer=2)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        held, sids = [], []
        for _ in range(2):
            sid, opener = _open()
            stream = await _Stream(client, server.peer.peer_id).start(opener)
            assert (await stream.answer())["type"] == "opened"
            held.append(stream)
            sids.append(sid)
        third = await _Stream(client, server.peer.peer_id).start(_open()[1])
        refusal = await third.answer()
        push = pack(StepRequest(type="push", session_id=sids[0], step=0, position=0), torch.zeros(1, 1, 576))
        pusher = await _Stream(client, server.peer.peer_id, "heliomesh.push").start(push)
        push_refusal = await pusher.answer()
        for stream in [*held, third, pusher]:
            stream.close()
        return refusal, push_refusal, sids

    refusal, push_refusal, sids = loop.run(scenario(), timeout=60)
    assert refusal["type"] == "error" and refusal["code"] == "busy"
    assert "too many open streams" in refusal["message"] and "at most 2 per peer" in refusal["message"]
    assert push_refusal["ok"] is False and "too many open streams" in push_refusal["error"]
    _wait_closed(server, sids)
    deadline = time.monotonic() + 10  # a stream is counted out when its handler returns
    while server.service.streams:  # (just after its session closed): every one, in time
        assert time.monotonic() < deadline, f"streams still counted: {server.service.streams}"
        time.sleep(0.05)


def test_a_full_inbox_stops_reading_the_stream_and_drops_nothing(served: Any, caps: Any) -> None:
    """Inbox of 1 and a worker held back: the server reads one step into the inbox and
    no more (back-pressure); a push into the full inbox is refused after the push timeout;
    once the worker goes on, every step sent is answered, in order."""
    loop, server, client = served
    service = server.service
    caps(inbox_steps=1)
    steps = 8

    async def scenario() -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        gate = asyncio.Event()
        step = service._step

        async def held_back(*args: Any) -> None:
            await gate.wait()
            await step(*args)

        service._step = held_back
        timeout, service.push_timeout_s = service.push_timeout_s, 0.5
        try:
            sid, opener = _open()
            stream = await _Stream(client, server.peer.peer_id).start(opener)
            assert (await stream.answer())["type"] == "opened"
            stream.send(*(_step(sid, torch.randn(1, 1, 576), step=i, position=i) for i in range(steps)))
            await asyncio.sleep(1.0)  # time enough to read all of them, were it unbounded
            queued = service.sessions[sid].inbox.qsize()
            push = pack(StepRequest(type="push", session_id=sid, step=steps, position=steps),
                        torch.zeros(1, 1, 576))
            pusher = await _Stream(client, server.peer.peer_id, "heliomesh.push").start(push)
            ack = await pusher.answer()
            pusher.close()
            gate.set()
            results = [await stream.answer() for _ in range(steps)]
            stream.close()
            return queued, ack, results
        finally:
            del service._step
            service.push_timeout_s = timeout

    queued, ack, results = loop.run(scenario(), timeout=90)
    assert queued == 1  # one step waits in the inbox (one is with the worker); the rest unread
    assert ack["ok"] is False and "push refused" in ack["error"] and "at most 1" in ack["error"]
    assert [r["type"] for r in results] == ["result"] * steps
    assert [r["step"] for r in results] == list(range(steps))
