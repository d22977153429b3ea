"""Issue #13 on a real chain: the referee's spot-check loop (node/referee/spotcheck.py)
finds each adversary by re-execution on independent inferers and files the fraud claim
on anvil; a second verifier confirms, the challenge window passes (time-warped), the
slash executes and the liar is jailed, while the honest inferers keep their stake.
Colluding verifiers who accuse an honest inferer lose the dispute.

The inferers run in-process (real tiny-llama spans, real keys signing under the deployed
Verification domain; tests/node/referee/integrity_kit.py); the same loop over real
processes is tests/integration/test_integrity_swarm.py."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect, local_account
from node.chain.deploy import deploy_all
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.crypto.eip712 import Domain
from node.engine import Span
from node.inferer.adversary import MODES
from node.models.tiny import write_tiny_model
from node.referee.spotcheck import SpotChecker
from node.swarm.evidence import CommitmentSigner

sys.path.insert(0, str(Path(__file__).parents[1] / "node" / "referee"))
from integrity_kit import LocalInferer, chunks, executor, forged, record_of  # noqa: E402

pytestmark = [pytest.mark.chain, pytest.mark.slow]
P = ChainParams()
HELIO = 10**18
REFEREES = DEV_ACCOUNTS[5:9]  # VERIFIER_ROLE at deployment, staked below
ACCUSED, FIRST, SECOND = DEV_ACCOUNTS[1:4]


@pytest.fixture(scope="module")
def w3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web3]:
    ensure_compiled()
    with Anvil() as anvil:
        yield connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)


@pytest.fixture(scope="module")
def deployment(w3: Web3, tmp_path_factory: pytest.TempPathFactory) -> Any:
    deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test",
                            directory=tmp_path_factory.mktemp("deployments"),
                            referees=tuple(a.address for a in REFEREES))
    owner = HelioChain(w3, deployment, local_account(DEV_ACCOUNTS[0].private_key))
    for i, account in enumerate([ACCUSED, FIRST, SECOND, *REFEREES]):
        owner.token.transfer(account.address, 20_000 * HELIO)
        chain = HelioChain(w3, deployment, local_account(account.private_key))
        chain.staking.ensure_staked(peer_id=f"12D3KooWtest{i}", attestation_key=account.address,
                                    region="UTC", capacity=1, amount=5 * chain.staking.min_stake())
    return deployment


def chain_of(w3: Web3, deployment: Any, account: Any) -> HelioChain:
    return HelioChain(w3, deployment, local_account(account.private_key))


@pytest.fixture(autouse=True)
def snapshot(w3: Web3, deployment: Any) -> Iterator[None]:
    snap = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def span(tmp_path_factory: pytest.TempPathFactory) -> Span:
    return Span(write_tiny_model("llama", tmp_path_factory.mktemp("tiny") / "llama", seed=7), 0, 4)


def warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", ["0x1"])  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_each_adversary_is_claimed_slashed_and_jailed(w3: Web3, deployment: Any, span: Span, mode: str) -> None:
    referee, confirmer = chain_of(w3, deployment, REFEREES[0]), chain_of(w3, deployment, REFEREES[1])
    signer = CommitmentSigner(Domain.of(referee.verification.c))
    liar, first, second = (LocalInferer(span, a.private_key, m, signer)
                           for a, m in ((ACCUSED, mode), (FIRST, None), (SECOND, None)))
    stakes = {a.address: referee.staking.stake_of(a.address).self_stake for a in (ACCUSED, FIRST, SECOND)}
    checker = SpotChecker(executor([liar, first, second]), chain=referee.verification, signer=signer)
    verdict = asyncio.run(checker.audit(record_of(liar, chunks(span.hidden_size, prompt=3, decode=2))))
    assert verdict.outcome == "fraud" and verdict.claim_id is not None, verdict
    assert referee.staking.is_frozen(liar.address)
    assert referee.verification.reputation_total(liar.address) == (0, 1)  # the failed spot-check
    confirmer.verification.confirm(verdict.claim_id)
    warp(w3, P.challenge_window_s + 1)
    confirmer.verification.execute_slash(verdict.claim_id)
    assert referee.verification.claim_status(verdict.claim_id) == "slashed"
    assert referee.staking.is_jailed(liar.address) and not referee.staking.is_active(liar.address)
    assert referee.staking.stake_of(liar.address).self_stake < stakes[liar.address]
    for honest in (first, second):
        assert referee.staking.stake_of(honest.address).self_stake == stakes[honest.address]
        assert not referee.staking.is_jailed(honest.address)


def test_colluding_verifiers_lose_the_dispute(w3: Web3, deployment: Any, span: Span) -> None:
    """Two inferers sign one made-up fingerprint for an honest inferer's step; a colluding
    referee files the claim; the accused disputes; the committee re-executes and rejects;
    the accusers are slashed and the honest inferer keeps its stake."""
    colluder_ref = chain_of(w3, deployment, REFEREES[0])
    signer = CommitmentSigner(Domain.of(colluder_ref.verification.c))
    honest, bob, carol = (LocalInferer(span, a.private_key, None, signer) for a in (ACCUSED, FIRST, SECOND))
    record = record_of(honest, chunks(span.hidden_size, prompt=3, decode=1))
    step = record.evidence[-1]
    fake = LocalInferer(span, FIRST.private_key, "garbage", signer).serve(
        [c for c in chunks(span.hidden_size, prompt=3, decode=1)])[-1].fingerprint
    conflicting = [forged(bob, step, fake), forged(carol, step, fake)]
    claim_id = colluder_ref.verification.submit_fraud_claim(
        honest.address, (step.commitment(), step.signature), [(e.commitment(), e.signature) for e in conflicting])
    accused_chain = chain_of(w3, deployment, ACCUSED)
    before = accused_chain.staking.stake_of(honest.address).self_stake
    accused_chain.verification.dispute(claim_id)
    assert accused_chain.verification.claim_status(claim_id) == "disputed"
    # the committee: referees who are not the accusers, each re-executing independently
    third = LocalInferer(span, DEV_ACCOUNTS[4].private_key, None, signer)
    avoid = {bob.address, carol.address, bob.peer_id, carol.peer_id}
    for account in REFEREES[1:]:
        judge = SpotChecker(executor([honest, bob, carol, third]), signer=signer)
        guilty = asyncio.run(judge.judge(record, avoid))
        assert guilty is False
        chain_of(w3, deployment, account).verification.reject(claim_id)
    warp(w3, P.dispute_window_s + 1)
    accused_chain.verification.resolve_dispute(claim_id)
    assert accused_chain.verification.claim_status(claim_id) == "rejected"
    assert accused_chain.staking.stake_of(honest.address).self_stake == before
    assert not accused_chain.staking.is_jailed(honest.address)
    accusers = accused_chain.verification.accusers_of(claim_id)
    assert REFEREES[0].address in accusers
