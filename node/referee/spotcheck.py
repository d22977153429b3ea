"""The referee's spot-check loop: re-execute a sample of hop sessions on independent
inferers, after the answer was returned, and act on what it finds.

``offer(record)`` is what a client calls when a generation is over: it samples the
record with probability ``rate`` (the protocol's 1 % recheck by default) and queues it;
it never blocks, so auditing adds no latency to anyone's request. ``run()`` works the
queue; ``audit(record)`` is one check:

1. replay the record's inputs on an inferer serving the same blocks that is neither the
   accused's address nor its peer (``Execute``: node/client/audit.py) and compare every
   step's fingerprint with the accused's commitment (``node.engine.fingerprint.agree``);
2. all agree → a passed spot-check (reputation; on chain ``postSpotCheck`` tied to the
   accused's last commitment digest);
3. a step disagrees → a third execution by yet another inferer; if the two independent
   ones agree with each other and not with the accused, it is fraud: the accused is
   excluded from routes at once, a failed spot-check is posted and a fraud claim is
   submitted with the three signed commitments as evidence. If the third agrees with the
   accused instead, the first verifier was the odd one out (its reputation pays).

``judge`` is a committee member's vote on a disputed claim (one more independent
re-execution). A commitment the client could not verify at all (``report_bad_commitment``: wrong
signer, output hash or fingerprint not matching the output) excludes that inferer too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import random
from pathlib import Path
from typing import Any, Protocol

from node.engine.fingerprint import tolerance_for
from node.referee.audit import (
    Execute,
    Execution,
    HopRecord,
    Verdict,
    claim_evidence,
    first_disagreement,
    steps_agree,
)
from node.referee.reputation import Reputation
from node.swarm.evidence import CommitmentSigner, StepEvidence, fingerprint_hash, session_key

log = logging.getLogger(__name__)

DEFAULT_RATE = 0.01  # the protocol's "1 % recheck"


class VerificationChain(Protocol):
    """What the loop needs of ``node.chain``'s ``Verification`` binding."""

    def post_spot_check(self, inferer: str, digest: bytes, passed: bool) -> Any: ...

    def submit_fraud_claim(self, accused: str, accused_commitment: Any, conflicting: Any) -> int: ...


class SpotChecker:
    def __init__(self, execute: Execute, *, rate: float = DEFAULT_RATE,
                 reputation: Reputation | None = None, chain: VerificationChain | None = None,
                 signer: CommitmentSigner | None = None, rng: random.Random | None = None,
                 max_pending: int = 256, evidence_dir: Path | None = None) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"the spot-check rate must be in [0, 1], got {rate}")
        self.execute = execute
        self.rate = rate
        self.reputation = reputation or Reputation()
        self.chain = chain
        self.signer = signer  # the Verification domain: digests for postSpotCheck
        self.rng = rng or random.Random()
        self.evidence_dir = evidence_dir  # each fraud's evidence as JSON, if set
        self.pending: queue.Queue[HopRecord] = queue.Queue(max_pending)
        self.verdicts: list[Verdict] = []
        self.offered = self.sampled = self.audited = 0

    # --- called by clients (any thread) ----------------------------------------------------
    def offer(self, record: HopRecord) -> bool:
        """Sample ``record`` with probability ``rate``; True if queued for an audit."""
        self.offered += 1
        if not record.evidence or self.rng.random() >= self.rate:
            return False
        try:
            self.pending.put_nowait(record)
        except queue.Full:
            log.warning("spot-check queue full: dropped a sampled session of %s", record.accused)
            return False
        self.sampled += 1
        return True

    def report_bad_commitment(self, evidence: StepEvidence, problem: str) -> None:
        self.reputation.lied(evidence.address, f"bad commitment at step {evidence.step}: {problem}")
        self.verdicts.append(Verdict("fraud", evidence.address, evidence.step, note=problem))

    # --- the loop -----------------------------------------------------------------------------
    async def run(self, poll_s: float = 0.5) -> None:
        while True:
            record = await asyncio.to_thread(self._take, poll_s)
            if record is None:
                continue
            try:
                await self.audit(record)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("spot-check of %s failed", record.accused)

    def _take(self, timeout: float) -> HopRecord | None:
        try:
            return self.pending.get(timeout=timeout)
        except queue.Empty:
            return None

    async def audit(self, record: HopRecord) -> Verdict:
        verdict = await self._audit(record)
        self.verdicts.append(verdict)
        self.audited += 1
        log.info("spot-check of %s blocks %d:%d (%d steps): %s%s", record.accused, record.start,
                 record.end, len(record.evidence), verdict.outcome,
                 f" at step {verdict.step}" if verdict.step is not None else "")
        return verdict

    async def _audit(self, record: HopRecord) -> Verdict:
        tol = tolerance_for(record.quantization)
        accused, avoid = record.accused, {record.accused, record.accused_peer}
        first = await self.execute(record, set(avoid))
        if first is None:
            return Verdict("unverified", accused, note="no independent inferer serves these blocks")
        steps = len(record.evidence)
        step = first_disagreement(record.evidence, first.evidence, tol)
        if step is None:
            self.reputation.record(accused, passed=True)
            await self._post(record.evidence[-1], passed=True)
            return Verdict("passed", accused, verifiers=[first.address], reexecuted_steps=steps)
        second = await self.execute(record, avoid | {first.address, first.peer_id})
        if second is None:
            return Verdict("inconclusive", accused, step, [first.address],
                           note="no third inferer to settle the disagreement", reexecuted_steps=steps)
        mine, one, two = record.evidence[step], first.evidence[step], second.evidence[step]
        verifiers = [first.address, second.address]
        if steps_agree(one, two, tol) and not steps_agree(mine, two, tol):
            return await self._fraud(record, step, first, second)
        if steps_agree(mine, two, tol):
            self.reputation.record(first.address, passed=False)  # the odd one out
            self.reputation.record(accused, passed=True)
            await self._post(record.evidence[-1], passed=True)
            return Verdict("passed", accused, step, verifiers, note="the first verifier disagreed alone",
                           reexecuted_steps=2 * steps)
        return Verdict("inconclusive", accused, step, verifiers,
                       note="the independent executions disagree with each other", reexecuted_steps=2 * steps)

    async def judge(self, record: HopRecord, avoid: set[str]) -> bool | None:
        """A committee member's vote on a disputed claim: re-execute on an inferer outside
        ``avoid`` (the accused and the accusers) and say whether the accused's commitments
        are wrong; None if nobody independent serves the blocks (abstain)."""
        tol = tolerance_for(record.quantization)
        execution = await self.execute(record, avoid | {record.accused, record.accused_peer})
        if execution is None:
            return None
        return first_disagreement(record.evidence, execution.evidence, tol) is not None

    async def _fraud(self, record: HopRecord, step: int, first: Execution, second: Execution) -> Verdict:
        accused = record.accused
        self.reputation.lied(accused, f"fingerprint of step {step} disagrees with two independent re-executions")
        await self._post(record.evidence[step], passed=False)
        verdict = Verdict("fraud", accused, step, [first.address, second.address],
                          reexecuted_steps=2 * len(record.evidence))
        if self.chain is None:
            return verdict
        mine, one, two = record.evidence[step], first.evidence[step], second.evidence[step]
        if one.fingerprint != two.fingerprint:  # the contract wants equal fingerprint hashes
            verdict.note = "the verifiers agree within tolerance, not bit for bit: no on-chain claim"
            return verdict
        if self.evidence_dir is not None:  # for `helio verify claim FILE` (another reporter)
            self.evidence_dir.mkdir(parents=True, exist_ok=True)
            path = self.evidence_dir / f"claim-{accused}-{mine.session_id[:16]}-{step}.json"
            path.write_text(json.dumps(claim_evidence(mine, [one, two]), indent=1))
        conflicting = [(one.commitment(), one.signature), (two.commitment(), two.signature)]
        try:
            verdict.claim_id = await asyncio.to_thread(
                self.chain.submit_fraud_claim, accused, (mine.commitment(), mine.signature), conflicting)
        except Exception as exc:  # noted; the local exclusion stands
            verdict.note = f"fraud claim not accepted: {exc}"
            log.warning("fraud claim against %s failed: %s", accused, exc)
        return verdict

    async def _post(self, evidence: StepEvidence, *, passed: bool) -> None:
        if self.chain is None or self.signer is None:
            return
        digest = self.signer.digest(session_key(evidence.session_id), evidence.step, evidence.input_hash,
                                    evidence.output_hash, fingerprint_hash(evidence.fingerprint))
        try:
            await asyncio.to_thread(self.chain.post_spot_check, evidence.address, digest, passed)
        except Exception as exc:  # e.g. already posted for this digest
            log.warning("postSpotCheck for %s failed: %s", evidence.address, exc)
