"""``SwarmRoute``: the network ``Route`` the client drives (``open`` / ``step`` / ``close``,
like ``InProcessRoute``), over the hops a ``SwarmClient`` plans (node/client/swarm_client.py).

One step: the client sends hidden states to the first server with the rest of the chain;
each server pushes its output straight to the next one and also returns it (with its
signed commitment) to the client, which keeps every span's encoded inputs. The last
server's output is the step's result. If a server fails (its stream ends, it sends an
error, it times out, or its answer does not verify) it is banned for a backoff period,
its blocks are re-planned onto other servers, the kept inputs are replayed there in
their original chunks (so the KV caches are rebuilt exactly: node/client/failover.py),
and the step continues from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import torch
from eth_utils.crypto import keccak
from hivemind.proto import runtime_pb2

from node.client.failover import close_all, replay
from node.client.hop_records import hop_records
from node.client.swarm_config import ClientConfig
from node.client.swarm_hops import HopStream
from node.client.wire_codec import check_offers, route_codec
from node.engine.codecs import AUTO, WIRE_DTYPES, get_codec
from node.engine.errors import CodecError
from node.engine.fingerprint import Fingerprint, FingerprintError, check, wire_tolerance
from node.referee.planner import Hop
from node.swarm.errors import MissingBlocksError, PeerFailure, SwarmError, short_peer
from node.swarm.evidence import (
    CommitmentSigner,
    InputChain,
    StepEvidence,
    fingerprint_hash,
    input_seed,
    session_key,
)
from node.swarm.peer import LoopThread, Peer
from node.swarm.records import ServerRecord
from node.swarm.wire import MAX_TENSOR_BYTES, NextHop, decode_hidden, encode_hidden

log = logging.getLogger(__name__)


class _StaleAnswer(Exception):
    """A hop's answer computed on the output of a previous hop whose commitment was
    rejected (it pushed before the client checked): not a failure, ignored."""


class RouteClient(Protocol):
    """What a route needs from its ``SwarmClient``."""

    config: ClientConfig
    loop: LoopThread
    peer: Peer
    signer: CommitmentSigner

    def banned(self) -> set[str]: ...
    def ban(self, peer_id: str, reason: str) -> None: ...
    async def plan(self, model_id: str, num_blocks: int, start: int, end: int, *,
                   max_length: int, previous: str | None = None) -> list[Hop]: ...
    async def fetch(self, model_id: str, num_blocks: int, fresh: bool = False) -> dict[str, ServerRecord]: ...


class SwarmRoute:
    """``Route`` over the swarm. Not thread-safe: one generation at a time per route."""

    def __init__(self, client: RouteClient, model_id: str, num_blocks: int, hidden_size: int) -> None:
        self.client = client
        self.model_id = model_id
        self.num_blocks = num_blocks
        self.hidden_size = hidden_size
        self.config = client.config
        if self.config.wire_dtype not in WIRE_DTYPES:
            raise SwarmError(f"wire dtype {self.config.wire_dtype!r}: use one of {list(WIRE_DTYPES)}")
        try:
            if self.config.codec != AUTO:  # auto: negotiated with the hops at open()
                get_codec(self.config.codec)
        except CodecError as exc:
            raise SwarmError(str(exc)) from None
        self.wire_dtype = WIRE_DTYPES[self.config.wire_dtype]
        self.hops: list[HopStream] = []
        self.max_length = 0
        self.step_index = 0
        self.position = 0
        self.chunks: list[tuple[int, int]] = []  # (position, tokens) per step
        # block -> step -> the input there, as sent on the wire (hashed, replayed as is)
        self.inputs: dict[int, dict[int, runtime_pb2.Tensor]] = {}
        self.evidence: list[StepEvidence] = []
        self.failovers = 0
        self.on_failover: Callable[[PeerFailure], None] | None = None
        # a commitment that did not hold: (its evidence, what was wrong), e.g. to a referee
        self.on_bad_commitment: Callable[[StepEvidence, str], None] | None = None
        self._rejected: dict[tuple[int, int], bytes] = {}  # (block, step) -> a rejected output there
        self._hashes: dict[str, InputChain] = {}  # session -> its input hash chain
        self._last: list[tuple[str, int, int]] = []
        # Per step: (wall ms at the client, summed compute ms the hops reported).
        self.timings: list[tuple[float, float]] = []
        self._compute_ms = 0.0
        # A route planned (and energy-admitted) beforehand: the next open() tries it first.
        self.pinned: list[Hop] | None = None
        # (from peer, to peer) pairs where a push failed: the client carries that hand-off
        # itself from then on (a server behind NAT may be unable to dial the next one;
        # asking it again every step would cost a failed dial per token).
        self.no_push: set[tuple[str, str]] = set()

    # --- Route -------------------------------------------------------------------------
    def open(self, max_length: int) -> None:
        self.close()
        self.max_length = max_length
        self.step_index = self.position = 0
        self.chunks, self.inputs, self.evidence, self.timings = [], {}, [], []
        self._rejected = {}
        self.client.loop.run(self._open_route())

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        if not self.hops:
            raise SwarmError("open() the route before stepping it")
        if hidden.dim() != 3 or hidden.shape[0] != 1 or hidden.shape[2] != self.hidden_size:
            raise SwarmError(f"expected hidden states (1, T, {self.hidden_size}), got {tuple(hidden.shape)}")
        per_token = self.hidden_size * self.wire_dtype.itemsize
        chunk = max(1, min(self.config.chunk_tokens, MAX_TENSOR_BYTES // per_token))
        outputs = [self.client.loop.run(self._step(part.contiguous()))
                   for part in torch.split(hidden, chunk, dim=1)]
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)

    def rewind(self, position: int) -> None:
        """The next step starts at ``position`` (≤ the current one): every server rolls
        its KV cache back when it arrives; replays after a failover repeat the same steps
        at their positions, so a replacement rolls back alike (speculative decoding)."""
        if not 0 <= position <= self.position:
            raise SwarmError(f"cannot rewind to {position}: the route holds {self.position} tokens")
        self.position = position

    def close(self) -> None:
        if self.hops:
            hops, self.hops = self.hops, []
            self._last = [(h.peer_id, h.hop.start, h.hop.end) for h in hops]
            with contextlib.suppress(Exception):
                self.client.loop.run(close_all(hops), timeout=10)
            referee = getattr(self.client, "referee", None)
            if referee is not None:  # the answer is out: the referee may sample it now
                for record in hop_records(self):
                    referee.offer(record)

    @property
    def peers(self) -> list[tuple[str, int, int]]:
        """(peer id, start, end) of each hop: the open route, else the last one used."""
        return [(h.peer_id, h.hop.start, h.hop.end) for h in self.hops] if self.hops else self._last

    # --- opening -------------------------------------------------------------------------
    async def _open_route(self) -> None:
        for _ in range(self.config.max_failovers + 1):
            hops, self.pinned = self.pinned, None
            if not hops or any(h.peer_id in self.client.banned() for h in hops):
                hops = await self.client.plan(self.model_id, self.num_blocks, 0, self.num_blocks,
                                              max_length=self.max_length)
            try:
                # this route's codec; self.config is the client's with the codec resolved
                codec = await route_codec(self._records, hops, self.client.config.codec)
                self.config = dataclasses.replace(self.client.config, codec=codec)
                self.hops = await self._open_hops(hops)
                log.info("route: %s", " → ".join(
                    f"{short_peer(h.peer_id)}[{h.hop.start}:{h.hop.end}]" for h in self.hops))
                return
            except PeerFailure as failure:
                self.client.ban(failure.peer_id, failure.reason)
        raise SwarmError(f"could not open a route for {self.model_id} after "
                         f"{self.config.max_failovers + 1} attempts")

    async def _records(self) -> dict[str, ServerRecord]:
        return await self.client.fetch(self.model_id, self.num_blocks)

    async def _open_hops(self, hops: list[Hop]) -> list[HopStream]:
        await check_offers(self._records, hops, self.config.codec)
        await asyncio.gather(*(self.client.peer.connect(h.peer_id, list(h.maddrs)) for h in hops))
        streams = [HopStream(hop) for hop in hops]
        results = await asyncio.gather(
            *(s.open(self.client.peer.p2p, self.model_id, self.max_length, self.config.wire_dtype,
                     self.config.open_timeout_s, codec=self.config.codec) for s in streams),
            return_exceptions=True,
        )
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            await close_all(streams)
            if isinstance(failure, PeerFailure):
                raise failure
            raise failure
        for stream in streams:
            self._hashes[stream.session_id] = InputChain(input_seed(
                self.model_id, stream.hop.start, stream.hop.end, self.config.wire_dtype, self.config.codec))
        return streams

    # --- stepping ------------------------------------------------------------------------
    async def _step(self, hidden: torch.Tensor) -> torch.Tensor:
        step, position, tokens = self.step_index, self.position, hidden.shape[1]
        if position + tokens > self.max_length:
            raise SwarmError(f"the session would reach {position + tokens} tokens, over its "
                             f"max length {self.max_length}")
        self.inputs.setdefault(0, {})[step] = encode_hidden(hidden.to(self.wire_dtype), self.config.codec)
        self.chunks.append((position, tokens))
        first = 0
        started = time.perf_counter()
        for attempt in range(self.config.max_failovers + 1):
            try:
                self._compute_ms = 0.0
                output = await self._run(step, first)
                self.timings.append(((time.perf_counter() - started) * 1e3, self._compute_ms))
                break
            except PeerFailure as failure:
                if attempt == self.config.max_failovers:
                    raise SwarmError(f"step {step} failed after {attempt} re-routes: {failure}") from None
                first = await self._repair(failure, step)
        self.step_index += 1
        self.position += tokens
        return output

    async def _run(self, step: int, first: int) -> torch.Tensor:
        """Run ``step`` from hop ``first`` to the end (servers push to each other)."""
        hops = self.hops
        position = self.chunks[step][0]
        for hop in hops[first:]:
            hop.forget(step)
        hops[first].send(step, position, self.inputs[hops[first].hop.start][step], self._pushes_after(first))
        output: torch.Tensor | None = None
        for index in range(first, len(hops)):
            hop = hops[index]
            waits: set[asyncio.Future[Any]] = {hop.result(step)}
            if index > first and self._pushed_to(index):
                waits.add(hops[index - 1].push_failed(step))
            elif index > first:  # no push to this hop: its input is the previous output
                hop.send(step, position, self.inputs[hop.hop.start][step], self._pushes_after(index))
            waits |= {h.closed for h in hops if h.closed is not None}
            timeout = self._timeout(step)
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                done, _ = await asyncio.wait(waits, timeout=max(remaining, 0),
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    raise PeerFailure(hop.peer_id, f"no answer to step {step} in {timeout:.1f} s")
                broken = next((h for h in hops if h.closed is not None and h.closed.done()), None)
                if broken is not None:
                    raise PeerFailure(broken.peer_id, broken.closed.result())  # type: ignore[union-attr]
                if hop.result(step).done():
                    try:
                        output = self._accept(hop, step, *hop.result(step).result())
                    except _StaleAnswer:  # computed on a rejected hop's push: the real one follows
                        waits.discard(hop.result(step))
                        hop.forget(step)
                        waits.add(hop.result(step))
                        continue
                    break
                # The previous server could not push to this one: send the step ourselves,
                # and every later step too.
                failed = hops[index - 1].push_failed(step)
                waits.discard(failed)
                log.warning("%s cannot push to %s (%s): the client hands that hop over itself",
                            short_peer(hops[index - 1].peer_id), short_peer(hop.peer_id),
                            failed.result().error[:200])
                self.no_push.add((hops[index - 1].peer_id, hop.peer_id))
                hop.send(step, position, self.inputs[hop.hop.start][step], self._pushes_after(index))
        assert output is not None
        return output

    def _pushed_to(self, index: int) -> bool:
        return (self.hops[index - 1].peer_id, self.hops[index].peer_id) not in self.no_push

    def _pushes_after(self, index: int) -> list[NextHop]:
        """The hops that hop ``index``'s output is pushed along: up to the first hand-off
        that failed before (the client sends that one)."""
        chain = []
        for later in range(index + 1, len(self.hops)):
            if not self._pushed_to(later):
                break
            chain.append(self.hops[later].as_next())
        return chain

    def _timeout(self, step: int) -> float:
        return self.config.step_timeout_s + self.config.step_timeout_per_token_s * self.chunks[step][1]

    def _accept(self, hop: HopStream, step: int, result: Any, proto: runtime_pb2.Tensor) -> torch.Tensor:
        """Check a hop's answer, keep its evidence and its output (the next hop's input)."""
        position, tokens = self.chunks[step]
        if result.position != position:
            raise PeerFailure(hop.peer_id, f"answered position {result.position}, expected {position}")
        try:
            output = decode_hidden(proto, hidden_size=self.hidden_size, dtype=self.config.wire_dtype,
                                   max_tokens=tokens, codec=self.config.codec)
        except SwarmError as exc:
            raise PeerFailure(hop.peer_id, f"bad output: {exc}") from None
        if output.shape[1] != tokens:
            raise PeerFailure(hop.peer_id, f"returned {output.shape[1]} tokens for a {tokens}-token step")
        input_hash = bytes.fromhex(result.input_hash[2:])
        output_hash = bytes.fromhex(result.output_hash[2:])
        signature = bytes.fromhex(result.signature[2:])
        blob = bytes.fromhex(result.fingerprint[2:])
        evidence = StepEvidence(
            hop.peer_id, hop.address, hop.session_id, hop.hop.start, hop.hop.end, step, position,
            input_hash, output_hash, signature, blob, tokens)
        if self.config.verify:
            self._verify(hop, evidence, proto, output)
        self._compute_ms += result.compute_ms
        self.evidence.append(evidence)
        if hop.hop.end < self.num_blocks:
            self.inputs.setdefault(hop.hop.end, {})[step] = proto  # the next hop's input
        return output

    def _verify(self, hop: HopStream, evidence: StepEvidence, proto: runtime_pb2.Tensor,
                output: torch.Tensor) -> None:
        """A commitment that does not hold is a peer failure (ban, re-route, replay), and
        the evidence goes to the referee (``on_bad_commitment``)."""
        step, position, tokens = evidence.step, evidence.position, evidence.tokens
        chain = self._hashes[hop.session_id]
        expected = chain.hash_step(position, bytes(self.inputs[hop.hop.start][step].buffer))
        problem = None
        rejected = self._rejected.get((hop.hop.start, step))
        if keccak(proto.buffer) != evidence.output_hash:
            problem = "its output hash does not match its output"
        elif expected != evidence.input_hash:
            if rejected is not None and chain.hash_step(position, rejected) == evidence.input_hash:
                raise _StaleAnswer  # it ran what the rejected previous hop pushed to it
            problem = "its commitment names other inputs than it was sent"
        else:
            problem = self._fingerprint_problem(evidence, output)
        if problem is None:
            digest = self.client.signer.digest(
                session_key(hop.session_id), step, evidence.input_hash, evidence.output_hash,
                fingerprint_hash(evidence.fingerprint))
            if self.client.signer.recover(digest, evidence.signature) != hop.address:
                problem = "its commitment is not signed by its address"
        if problem is not None:
            if self.on_bad_commitment is not None:
                self.on_bad_commitment(evidence, problem)
            # it may have pushed this output on already: answers computed on it are stale
            self._rejected[(hop.hop.end, step)] = bytes(proto.buffer)
            raise PeerFailure(hop.peer_id, problem)
        chain.record(position + tokens, expected)

    def _fingerprint_problem(self, evidence: StepEvidence, output: torch.Tensor) -> str | None:
        """Is the signed fingerprint one of the output that was sent? (Whether the output
        is *right* is the referee's re-execution's question.)"""
        try:
            claimed = Fingerprint.from_bytes(evidence.fingerprint, hidden_size=self.hidden_size,
                                             tokens=evidence.tokens)
        except FingerprintError as exc:
            return f"its commitment's fingerprint is malformed: {exc}"
        mismatch = check(claimed, output, wire_tolerance(self.config.wire_dtype, self.config.codec))
        if mismatch is not None:
            return f"its fingerprint does not describe its output ({mismatch.reason} at token {mismatch.position})"
        return None

    # --- failover ------------------------------------------------------------------------
    async def _repair(self, failure: PeerFailure, step: int) -> int:
        """Replace the failed hop, replay its inputs, return the hop index to resume at."""
        self.failovers += 1
        if self.on_failover is not None:
            self.on_failover(failure)
        self.client.ban(failure.peer_id, failure.reason)
        index = next((i for i, h in enumerate(self.hops) if h.peer_id == failure.peer_id), None)
        if index is None:  # not in the route (any more): just retry from the start
            return 0
        failed = self.hops[index]
        start, end = failed.hop.start, failed.hop.end
        previous = self.hops[index - 1].peer_id if index > 0 else None
        await failed.close()
        for _ in range(self.config.max_failovers + 1):
            plan = await self.client.plan(self.model_id, self.num_blocks, start, end,
                                          max_length=self.max_length, previous=previous)
            try:
                fresh = await self._open_hops(plan)
                await replay(fresh, step, self.chunks, self.inputs, self._accept, self._timeout)
            except PeerFailure as again:
                self.client.ban(again.peer_id, again.reason)
                continue
            self.hops[index : index + 1] = fresh
            log.info("re-routed blocks %d:%d to %s and replayed %d steps", start, end,
                     ", ".join(f"{short_peer(h.peer_id)}[{h.hop.start}:{h.hop.end}]" for h in fresh), step)
            return index
        raise MissingBlocksError(self.model_id, list(range(start, end)), "every replacement failed")
