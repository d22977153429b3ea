"""What a spot-check works on: ``HopRecord`` (one hop session as the client kept it: the
inputs it sent, in their chunks, and the commitments it got back), ``Execution`` (an
independent inferer's replay of those inputs) and ``Verdict`` (the outcome).

Replaying the recorded inputs in their original chunks rebuilds the KV cache the accused
had at every step, and chains to the same input hashes (the seed names model, span, wire
dtype and codec, not the session), so the verifiers' commitments are over the same
``inputHash`` as the accused's: what the Verification contract compares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hivemind.proto import runtime_pb2

from node.core.errors import ConfigError
from node.crypto.eip712 import OutputCommitment
from node.engine.fingerprint import Fingerprint, FingerprintError, Tolerance, agree
from node.swarm.evidence import StepEvidence


@dataclass(frozen=True)
class HopRecord:
    model_id: str
    num_blocks: int
    start: int
    end: int
    wire_dtype: str
    codec: str
    max_length: int
    chunks: tuple[tuple[int, int], ...]  # (position, tokens) per step
    inputs: tuple[runtime_pb2.Tensor, ...]  # the encoded input per step, as sent
    evidence: tuple[StepEvidence, ...]  # the accused's commitment per step
    quantization: str = "none"  # declared by the accused: picks the tolerance

    @property
    def accused(self) -> str:
        return self.evidence[-1].address

    @property
    def accused_peer(self) -> str:
        return self.evidence[-1].peer_id


@dataclass(frozen=True)
class Execution:
    """An independent inferer's commitments for the replayed steps, in step order."""

    peer_id: str
    address: str
    evidence: tuple[StepEvidence, ...]


# (record, peer ids and addresses to avoid) → an independent execution, or None if no
# other inferer serves those blocks now
Execute = Callable[[HopRecord, set[str]], Awaitable[Execution | None]]
Signed = tuple[OutputCommitment, bytes]  # a commitment and its signature


@dataclass
class Verdict:
    outcome: str  # passed | fraud | inconclusive | unverified
    accused: str
    step: int | None = None  # the first step that disagreed
    verifiers: list[str] = field(default_factory=list)
    claim_id: int | None = None
    note: str = ""
    reexecuted_steps: int = 0


def parse(evidence: StepEvidence, hidden_size: int | None = None) -> Fingerprint | None:
    try:
        return Fingerprint.from_bytes(evidence.fingerprint, hidden_size=hidden_size,
                                      tokens=evidence.tokens)
    except FingerprintError:
        return None


def steps_agree(a: StepEvidence, b: StepEvidence, tol: Tolerance) -> bool:
    """Do two commitments to the same step describe outputs within ``tol``? (A commitment
    without a well-formed fingerprint agrees with nothing.)"""
    fa, fb = parse(a), parse(b)
    return fa is not None and fb is not None and a.input_hash == b.input_hash and agree(fa, fb, tol)


def first_disagreement(accused: tuple[StepEvidence, ...], other: tuple[StepEvidence, ...],
                       tol: Tolerance) -> int | None:
    for mine, theirs in zip(accused, other, strict=False):
        if not steps_agree(mine, theirs, tol):
            return mine.step
    return None


def claim_evidence(accused: StepEvidence, conflicting: list[StepEvidence]) -> dict[str, Any]:
    """A fraud claim's evidence as JSON (what ``helio verify claim FILE`` submits)."""

    def signed(e: StepEvidence) -> dict[str, Any]:
        c = e.commitment()
        return {"signer": e.address, "session": "0x" + c.session.hex(), "step": c.step,
                "input_hash": "0x" + c.input_hash.hex(), "output_hash": "0x" + c.output_hash.hex(),
                "fingerprint_hash": "0x" + c.fingerprint_hash.hex(),
                "fingerprint": "0x" + e.fingerprint.hex(), "signature": "0x" + e.signature.hex()}

    return {"accused": accused.address, "commitment": signed(accused),
            "conflicting": [signed(e) for e in conflicting]}


def claim_commitments(evidence: dict[str, Any]) -> tuple[str, Signed, list[Signed]]:
    """(accused, its signed commitment, the conflicting ones) from ``claim_evidence`` JSON;
    ``ValueError`` naming what is missing or malformed."""

    def signed(d: dict[str, Any]) -> Signed:
        try:
            commitment = OutputCommitment(bytes.fromhex(d["session"][2:]), int(d["step"]),
                                          bytes.fromhex(d["input_hash"][2:]),
                                          bytes.fromhex(d["output_hash"][2:]),
                                          bytes.fromhex(d["fingerprint_hash"][2:]))
            return commitment, bytes.fromhex(d["signature"][2:])
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ValueError(f"malformed commitment in the evidence: {exc}") from None

    try:
        return str(evidence["accused"]), signed(evidence["commitment"]), [
            signed(c) for c in evidence["conflicting"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"evidence needs accused, commitment and conflicting: {exc}") from None
