"""Verification on anvil: spot-checks into per-epoch reputation, fraud claims with real
EIP-712 signed output commitments, quorum confirmation (by transaction and by relayed
signatures), the challenge window, slashing split burn/reporter/treasury, no double use."""

from __future__ import annotations

import pytest
from chainkit import (
    DEPLOYER,
    MIN_STAKE,
    actor,
    advance,
    as_timelock,
    events,
    make_inferer,
    revert,
    send,
)  # fmt: skip
from web3 import Web3
from web3.contract import Contract

from node.chain.params import ChainParams
from node.crypto.eip712 import Domain, FraudClaim, OutputCommitment, evidence_hash

pytestmark = pytest.mark.chain
V = "Verification"
P = ChainParams()
INPUT = b"\x11" * 32


@pytest.fixture
def ver(contracts: dict[str, Contract]) -> Contract:
    return contracts[V]


@pytest.fixture
def world(w3: Web3, contracts: dict[str, Contract], ver: Contract) -> dict:
    """Inferers alice (accused), bob, carol; verifiers: the deployer and 'ref2', both staked."""
    staking, token = contracts["StakingRegistry"], contracts["HelioToken"]
    send(w3, DEPLOYER, staking.functions.register("12D3KooWref1", DEPLOYER.address, "UTC", 0))
    send(w3, DEPLOYER, token.functions.approve(staking.address, MIN_STAKE))
    send(w3, DEPLOYER, staking.functions.stake(MIN_STAKE))
    ref2 = make_inferer(w3, contracts, "ref2")
    role = ver.functions.VERIFIER_ROLE().call()
    as_timelock(w3, contracts["HelioTimelock"].address, ver.functions.grantRole(role, ref2.address))
    alice, bob, carol = (
        make_inferer(w3, contracts, n, stake=10 * MIN_STAKE) for n in ("alice", "bob", "carol")
    )
    return {"alice": alice, "bob": bob, "carol": carol, "ref2": ref2}


def commit(
    ver: Contract, who, out: bytes, inp: bytes = INPUT, step: int = 3
) -> tuple[tuple, bytes]:  # noqa: ANN001
    c = OutputCommitment(b"\x05" * 32, step, inp, out)
    return c.as_tuple(), c.sign(who.private_key, Domain.of(ver))


def claim(w3: Web3, ver: Contract, world: dict, reporter=DEPLOYER) -> int:  # noqa: ANN001
    a = commit(ver, world["alice"], b"\xaa" * 32)
    others = [commit(ver, world["bob"], b"\xbb" * 32), commit(ver, world["carol"], b"\xbc" * 32)]
    receipt = send(w3, reporter, ver.functions.submitFraudClaim(world["alice"].address, a, others))
    return events(ver, receipt, "FraudClaimSubmitted")[0]["claimId"]


def test_spot_checks_build_reputation(w3: Web3, ver: Contract, world: dict) -> None:
    alice, bob = world["alice"], world["bob"]
    epoch = ver.functions.currentEpoch().call()
    receipt = send(w3, DEPLOYER, ver.functions.postSpotCheck(alice.address, True))
    assert events(ver, receipt, "SpotCheckPosted") == [
        {"inferer": alice.address, "verifier": DEPLOYER.address, "epoch": epoch, "passed": True}
    ]
    send(
        w3,
        DEPLOYER,
        ver.functions.postSpotChecks(
            [alice.address, alice.address, bob.address], [True, False, True]
        ),
    )
    assert ver.functions.reputationOf(alice.address, epoch).call() == (2, 1)
    assert ver.functions.reputationOf(bob.address, epoch).call() == (1, 0)
    assert revert(w3, alice, ver.functions.postSpotCheck(bob.address, False), V) == (
        "VerificationNotVerifier",
        (alice.address,),
    )
    assert revert(w3, DEPLOYER, ver.functions.postSpotChecks([alice.address], []), V) == (
        "VerificationBatchLength",
        (1, 0),
    )


def test_fraud_claim_quorum_window_and_slash(
    w3: Web3, contracts: dict[str, Contract], ver: Contract, world: dict
) -> None:
    token, staking = contracts["HelioToken"], contracts["StakingRegistry"]
    alice, ref2 = world["alice"], world["ref2"]
    supply = token.functions.totalSupply().call()
    cid = claim(w3, ver, world)
    c = ver.functions.claimOf(cid).call()
    assert (c[0], c[2], c[3], c[4]) == (alice.address, DEPLOYER.address, 1, False)
    assert revert(w3, DEPLOYER, ver.functions.confirmClaim(cid), V) == (
        "VerificationAlreadyConfirmed",
        (cid, DEPLOYER.address),
    )
    assert (
        revert(w3, DEPLOYER, ver.functions.executeSlash(cid), V)[0]
        == "VerificationChallengeWindowOpen"
    )
    advance(w3, P.challenge_window_s)
    assert revert(w3, DEPLOYER, ver.functions.executeSlash(cid), V) == (
        "VerificationQuorumNotReached",
        (1, 2),
    )
    receipt = send(w3, ref2, ver.functions.confirmClaim(cid))
    assert events(ver, receipt, "FraudClaimConfirmed") == [
        {"claimId": cid, "verifier": ref2.address, "confirmations": 2}
    ]
    reporter_before = token.functions.balanceOf(DEPLOYER.address).call()
    receipt = send(w3, alice, ver.functions.executeSlash(cid))  # anyone may execute
    amount = 10 * MIN_STAKE // 10
    (ev,) = events(ver, receipt, "FraudSlashed")
    assert ev == {"claimId": cid, "accused": alice.address, "amount": amount, "burned": amount // 2,
                  "toReporter": amount * 3 // 10, "toTreasury": amount // 5}  # fmt: skip
    assert staking.functions.stakeOf(alice.address).call()[0] == 9 * MIN_STAKE
    assert token.functions.totalSupply().call() == supply - amount // 2
    assert token.functions.balanceOf(DEPLOYER.address).call() == reporter_before + amount * 3 // 10
    assert token.functions.balanceOf(contracts["HelioTimelock"].address).call() == amount // 5
    assert revert(w3, DEPLOYER, ver.functions.executeSlash(cid), V) == (
        "VerificationClaimExecuted",
        (cid,),
    )
    # The same evidence can never slash twice.
    name, (digest,) = revert(w3, DEPLOYER, ver.functions.submitFraudClaim(
        alice.address, commit(ver, alice, b"\xaa" * 32),
        [commit(ver, world["bob"], b"\xbb" * 32), commit(ver, world["carol"], b"\xbc" * 32)]), V)  # fmt: skip
    assert name == "VerificationEvidenceUsed" and ver.functions.isEvidenceUsed(digest).call()


def test_confirm_with_relayed_signatures(w3: Web3, ver: Contract, world: dict) -> None:
    cid = claim(w3, ver, world)
    accused, _, reporter, _, _, inp, out, evidence = ver.functions.claimOf(cid).call()
    # The evidence hash is what node/crypto/eip712.py computes from the digests.
    domain = Domain.of(ver)
    digests = [
        OutputCommitment(b"\x05" * 32, 3, INPUT, o).digest(domain)
        for o in (b"\xaa" * 32, b"\xbb" * 32, b"\xbc" * 32)
    ]
    assert evidence == evidence_hash(digests)
    fc = FraudClaim(accused, reporter, inp, out, evidence)
    sig = fc.sign(world["ref2"].private_key, domain)
    receipt = send(w3, world["bob"], ver.functions.confirmClaimWithSignatures(cid, [sig]))
    assert events(ver, receipt, "FraudClaimConfirmed")[0]["verifier"] == world["ref2"].address
    assert ver.functions.hasConfirmed(cid, world["ref2"].address).call()
    assert revert(w3, world["bob"], ver.functions.confirmClaimWithSignatures(cid, [sig]), V) == (
        "VerificationAlreadyConfirmed",
        (cid, world["ref2"].address),
    )
    stranger_sig = fc.sign(world["carol"].private_key, domain)  # staked, but no VERIFIER_ROLE
    assert revert(
        w3, world["bob"], ver.functions.confirmClaimWithSignatures(cid, [stranger_sig]), V
    ) == ("VerificationNotVerifier", (world["carol"].address,))
    assert revert(w3, DEPLOYER, ver.functions.confirmClaim(99), V) == (
        "VerificationUnknownClaim",
        (99,),
    )


def test_fraud_claim_evidence_is_checked(
    w3: Web3, contracts: dict[str, Contract], ver: Contract, world: dict
) -> None:
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    a = commit(ver, alice, b"\xaa" * 32)
    good = [commit(ver, bob, b"\xbb" * 32), commit(ver, carol, b"\xbc" * 32)]

    def submit(accused: str, acc: tuple, others: list) -> tuple:
        return revert(w3, DEPLOYER, ver.functions.submitFraudClaim(accused, acc, others), V)

    assert submit(alice.address, a, good[:1]) == ("VerificationConflictCount", (1, 2, 8))
    assert submit(bob.address, a, good) == (
        "VerificationBadSignature",
        (0, alice.address, bob.address),
    )
    assert submit(
        alice.address, a, [good[0], commit(ver, carol, b"\xbc" * 32, inp=b"\x22" * 32)]
    ) == ("VerificationInputMismatch", (2,))
    assert submit(alice.address, a, [good[0], commit(ver, carol, b"\xaa" * 32)]) == (
        "VerificationOutputsAgree",
        (2,),
    )
    assert submit(alice.address, a, [good[0], commit(ver, bob, b"\xbd" * 32)]) == (
        "VerificationDuplicateSigner",
        (2, bob.address),
    )
    assert submit(alice.address, a, [good[0], commit(ver, alice, b"\xbd" * 32)]) == (
        "VerificationDuplicateSigner",
        (2, alice.address),
    )
    nobody = actor("nobody")
    assert submit(alice.address, a, [good[0], commit(ver, nobody, b"\xbd" * 32)]) == (
        "VerificationSignerNotActive",
        (2, nobody.address),
    )
    assert revert(w3, alice, ver.functions.submitFraudClaim(alice.address, a, good), V) == (
        "VerificationNotVerifier",
        (alice.address,),
    )


def test_parameters_by_governance(w3: Web3, contracts: dict[str, Contract], ver: Contract) -> None:
    assert ver.functions.parameters().call() == P.verification_parameters()
    assert ver.functions.epochLength().call() == P.verification_epoch_s
    new = (2_000, 10_000, 0, 3, 1, 60)
    receipt = as_timelock(w3, contracts["HelioTimelock"].address, ver.functions.setParameters(new))
    assert tuple(events(ver, receipt, "ParametersSet")[0]["parameters"].values()) == new
    assert (
        revert(w3, DEPLOYER, ver.functions.setParameters(new), V)[0]
        == "AccessControlUnauthorizedAccount"
    )
    with pytest.raises(Exception):  # noqa: B017 (impersonated: VerificationInvalidParameters in estimation)
        as_timelock(
            w3, contracts["HelioTimelock"].address, ver.functions.setParameters((0, 0, 0, 1, 1, 0))
        )
