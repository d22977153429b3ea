"""The client's side of spot-checks: how a referee re-executes a hop session on another
inferer (``SwarmExecutor``, the ``Execute`` of ``node.referee.spotcheck.SpotChecker``)
and ``embed_referee``, which gives a client a referee (what a finished route hands it:
node/client/hop_records.py).

A re-execution is an ordinary session: open the same blocks on an independent inferer
(not the accused's address or peer, online, staked and trusted by the planner), replay
the recorded inputs in their chunks (``failover.replay``, as a failover does) and keep
the commitments it signs, each checked like any answer (signature, output hash,
fingerprint of the output sent): they become the evidence of a fraud claim.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hivemind.proto import runtime_pb2

from node.client.failover import close_all, replay
from node.client.swarm_hops import HopStream
from node.engine.fingerprint import Fingerprint, check, wire_tolerance
from node.referee.audit import Execution, HopRecord
from node.referee.planner import Hop
from node.referee.reputation import Reputation
from node.referee.spotcheck import DEFAULT_RATE, SpotChecker
from node.swarm.errors import PeerFailure
from node.swarm.evidence import StepEvidence, fingerprint_hash, session_key
from node.swarm.wire import decode_hidden

if TYPE_CHECKING:
    from node.client.swarm_client import SwarmClient


class SwarmExecutor:
    """Re-executes hop records through ``client``'s swarm connection."""

    def __init__(self, client: SwarmClient, rng: random.Random | None = None) -> None:
        self.client = client
        self.rng = rng or random.Random()

    async def __call__(self, record: HopRecord, avoid: set[str]) -> Execution | None:
        hops = await self._candidates(record, avoid)
        for hop in hops[:3]:
            try:
                return await self._replay(record, hop)
            except PeerFailure as failure:
                self.client.ban(failure.peer_id, f"spot-check replay: {failure.reason}")
        return None

    async def _candidates(self, record: HopRecord, avoid: set[str]) -> list[Hop]:
        records = await self.client.fetch(record.model_id, record.num_blocks, fresh=True)
        usable = self.client.planner.usable(records.values(), banned=self.client.banned(),
                                            max_length=record.max_length)
        hops = [Hop(r.peer_id, record.start, record.end, r.address, tuple(r.maddrs))
                for r in usable
                if r.start <= record.start and record.end <= r.end
                and r.peer_id not in avoid and r.address not in avoid]
        self.rng.shuffle(hops)
        return hops

    async def _replay(self, record: HopRecord, hop: Hop) -> Execution:
        config = self.client.config
        await self.client.peer.connect(hop.peer_id, list(hop.maddrs))
        stream = HopStream(hop)
        await stream.open(self.client.peer.p2p, record.model_id, record.max_length, record.wire_dtype,
                          config.open_timeout_s, codec=record.codec)
        kept: list[StepEvidence] = []

        def accept(hop_stream: HopStream, step: int, result: Any, proto: runtime_pb2.Tensor) -> None:
            kept.append(self._checked(record, hop_stream, step, result, proto))

        def timeout(step: int) -> float:
            return config.step_timeout_s + config.step_timeout_per_token_s * record.chunks[step][1]

        await replay([stream], len(record.evidence), list(record.chunks), {record.start: dict(enumerate(record.inputs))},
                     accept, timeout)
        await close_all([stream])
        return Execution(hop.peer_id, stream.address, tuple(kept))

    def _checked(self, record: HopRecord, stream: HopStream, step: int, result: Any,
                 proto: runtime_pb2.Tensor) -> StepEvidence:
        """The verifier's answer must hold as a commitment, or it is no evidence."""
        position, tokens = record.chunks[step]
        blob = bytes.fromhex(result.fingerprint[2:])
        evidence = StepEvidence(stream.peer_id, stream.address, stream.session_id, record.start, record.end,
                                step, position, bytes.fromhex(result.input_hash[2:]),
                                bytes.fromhex(result.output_hash[2:]), bytes.fromhex(result.signature[2:]),
                                blob, tokens)
        signer = self.client.signer
        digest = signer.digest(session_key(stream.session_id), step, evidence.input_hash,
                               evidence.output_hash, fingerprint_hash(blob))
        if signer.recover(digest, evidence.signature) != stream.address:
            raise PeerFailure(stream.peer_id, "its replay commitment is not signed by its address")
        try:
            output = decode_hidden(proto, hidden_size=_hidden_size(record), dtype=record.wire_dtype,
                                   max_tokens=tokens, codec=record.codec)
            claimed = Fingerprint.from_bytes(blob, tokens=tokens)
        except Exception as exc:  # SwarmError, FingerprintError
            raise PeerFailure(stream.peer_id, f"its replay answer is malformed: {exc}") from None
        if check(claimed, output, wire_tolerance(record.wire_dtype, record.codec)) is not None:
            raise PeerFailure(stream.peer_id, "its replay fingerprint does not describe its output")
        return evidence


def _hidden_size(record: HopRecord) -> int:
    return int(record.inputs[0].size[-1])


def embed_referee(client: SwarmClient, *, chain: Any = None, rate: float = DEFAULT_RATE,
                  evidence_dir: Path | None = None) -> tuple[SpotChecker, concurrent.futures.Future[None]]:
    """Give ``client`` a referee (what the gateway and ``helio referee`` run): finished
    routes are sampled at ``rate`` and re-executed in the background on the client's own
    loop; the planner weights routes by the resulting reputation (jailed and caught
    inferers get none). ``chain``: a ``HelioChain`` whose Verification gets the spot-checks
    and claims (its account needs VERIFIER_ROLE and stake). Cancel the future to stop."""
    reputation = Reputation.for_chain(chain) if chain is not None else Reputation()
    client.planner.trust = reputation
    checker = SpotChecker(SwarmExecutor(client), rate=rate, reputation=reputation,
                          chain=chain.verification if chain is not None else None,
                          signer=client.signer, evidence_dir=evidence_dir)
    client.referee = checker
    return checker, asyncio.run_coroutine_threadsafe(checker.run(), client.loop.loop)
