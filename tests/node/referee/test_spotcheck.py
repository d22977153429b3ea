"""The referee's spot-check loop over in-process inferers (real spans, real signatures):
honest work passes, a liar is found by two independent re-executions and excluded, a
lying verifier cannot frame an honest inferer, and sampling follows the rate."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from integrity_kit import LocalInferer, chunks, executor, record_of

from node.chain.devkeys import DEV_ACCOUNTS
from node.engine import Span
from node.referee.reputation import Reputation
from node.referee.spotcheck import SpotChecker
from node.swarm.evidence import CommitmentSigner, default_domain


@pytest.fixture(scope="module")
def span(tiny_llama: Path) -> Span:
    return Span(tiny_llama, 0, 4)


def inferers(span: Span, *modes: str | None) -> list[LocalInferer]:
    return [LocalInferer(span, DEV_ACCOUNTS[i + 1].private_key, mode) for i, mode in enumerate(modes)]


class RecordingChain:
    """Stands in for the Verification binding here (tests/integration/test_integrity_chain.py
    runs the real contract): records what the loop posts."""

    def __init__(self) -> None:
        self.spot_checks: list[tuple[str, bytes, bool]] = []
        self.claims: list[tuple[str, Any, Any]] = []

    def post_spot_check(self, inferer: str, digest: bytes, passed: bool) -> None:
        self.spot_checks.append((inferer, digest, passed))

    def submit_fraud_claim(self, accused: str, accused_commitment: Any, conflicting: Any) -> int:
        self.claims.append((accused, accused_commitment, conflicting))
        return len(self.claims)


def test_honest_work_passes_and_posts_one_spot_check(span: Span) -> None:
    accused, verifier, spare = inferers(span, None, None, None)
    chain = RecordingChain()
    checker = SpotChecker(executor([accused, verifier, spare]), chain=chain,
                          signer=CommitmentSigner(default_domain()))
    record = record_of(accused, chunks(span.hidden_size))
    verdict = asyncio.run(checker.audit(record))
    assert verdict.outcome == "passed" and verdict.verifiers == [verifier.address]
    assert spare.served == 0  # agreement needs no third execution
    assert chain.spot_checks == [(accused.address, chain.spot_checks[0][1], True)] and not chain.claims
    digest = chain.spot_checks[0][1]
    assert digest == record.evidence[-1].commitment().digest(default_domain())
    assert checker.reputation.score(accused.address) > 0.5


@pytest.mark.parametrize("mode", ["garbage", "noise", "skip", "identity"])
def test_a_liar_is_claimed_with_two_agreeing_independent_executions(span: Span, mode: str) -> None:
    liar, first, second = inferers(span, mode, None, None)
    chain = RecordingChain()
    checker = SpotChecker(executor([liar, first, second]), chain=chain,
                          signer=CommitmentSigner(default_domain()))
    verdict = asyncio.run(checker.audit(record_of(liar, chunks(span.hidden_size))))
    assert verdict.outcome == "fraud" and verdict.verifiers == [first.address, second.address]
    assert checker.reputation.excluded(liar.address)
    (accused, (commitment, _), conflicting), = chain.claims
    assert accused == liar.address and len(conflicting) == 2
    assert {c.input_hash for c, _ in conflicting} == {commitment.input_hash}  # same inputs replayed
    assert [passed for _, _, passed in chain.spot_checks] == [False]


def test_a_lying_verifier_cannot_frame_an_honest_inferer(span: Span) -> None:
    honest, lying_verifier, third = inferers(span, None, "garbage", None)
    chain = RecordingChain()
    checker = SpotChecker(executor([honest, lying_verifier, third]), chain=chain,
                          signer=CommitmentSigner(default_domain()))
    verdict = asyncio.run(checker.audit(record_of(honest, chunks(span.hidden_size))))
    assert verdict.outcome == "passed" and not chain.claims
    assert not checker.reputation.excluded(honest.address)
    assert checker.reputation.score(lying_verifier.address) < 0.5


def test_colluding_verifiers_that_disagree_with_each_other_get_no_claim(span: Span) -> None:
    honest, liar_a, liar_b = inferers(span, None, "garbage", "noise")
    chain = RecordingChain()
    checker = SpotChecker(executor([honest, liar_a, liar_b]), chain=chain)
    verdict = asyncio.run(checker.audit(record_of(honest, chunks(span.hidden_size))))
    assert verdict.outcome == "inconclusive" and not chain.claims
    assert not checker.reputation.excluded(honest.address)


def test_without_an_independent_inferer_nothing_is_concluded(span: Span) -> None:
    (alone,) = inferers(span, None)
    checker = SpotChecker(executor([alone]))
    verdict = asyncio.run(checker.audit(record_of(alone, chunks(span.hidden_size, decode=1))))
    assert verdict.outcome == "unverified" and alone.served == 1  # never re-run on the accused


def test_offer_samples_at_the_configured_rate(span: Span) -> None:
    (inferer,) = inferers(span, None)
    record = record_of(inferer, chunks(span.hidden_size, decode=0))
    never = SpotChecker(executor([]), rate=0.0)
    always = SpotChecker(executor([]), rate=1.0)
    assert not never.offer(record) and always.offer(record) and always.pending.qsize() == 1
    sometimes = SpotChecker(executor([]), rate=0.05, rng=random.Random(5), max_pending=10_000)
    taken = sum(sometimes.offer(record) for _ in range(4000))
    assert 140 <= taken <= 260  # 5 % of 4000 = 200
    with pytest.raises(ValueError):
        SpotChecker(executor([]), rate=1.5)


def test_a_bad_commitment_handed_over_by_the_client_excludes_the_inferer(span: Span) -> None:
    (inferer,) = inferers(span, None)
    record = record_of(inferer, chunks(span.hidden_size, decode=0))
    reputation = Reputation()
    checker = SpotChecker(executor([]), reputation=reputation)
    checker.report_bad_commitment(record.evidence[0], "its output hash does not match its output")
    assert reputation.excluded(inferer.address) and checker.verdicts[-1].outcome == "fraud"


def test_fraud_evidence_is_written_for_helio_verify_claim(span: Span, tmp_path: Path) -> None:
    import json

    from node.referee.audit import claim_commitments

    liar, first, second = inferers(span, "garbage", None, None)
    chain = RecordingChain()
    checker = SpotChecker(executor([liar, first, second]), chain=chain, evidence_dir=tmp_path)
    asyncio.run(checker.audit(record_of(liar, chunks(span.hidden_size, decode=1))))
    (written,) = tmp_path.glob("claim-*.json")
    accused, commitment, conflicting = claim_commitments(json.loads(written.read_text()))
    assert (accused, commitment, conflicting) == chain.claims[0][:2] + (chain.claims[0][2],)
    with pytest.raises(ValueError, match="accused, commitment and conflicting"):
        claim_commitments({"accused": liar.address})
