"""Verification on anvil: spot-checks into reputation (once per verifier and digest),
fraud claims with real EIP-712 signed output commitments whose independent fingerprints
must agree with each other, one claim per (accused, session), quorum confirmation (by
transaction and by relayed signatures), the challenge window, the slash sized from the
stake frozen at submission and split burn / reporter (own stake only, capped) / treasury.
Disputes, expiry and jailing: test_verification_disputes.py."""

from __future__ import annotations

import pytest
from chainkit import DEPLOYER, HELIO, MIN_STAKE, actor, advance, as_timelock, events, revert, send
from verifykit import FP_LIE, FP_TRUE, INPUT, SESSION, V, claim, commit, evidence, make_world
from web3 import Web3
from web3.contract import Contract

from node.chain.params import ChainParams
from node.crypto.eip712 import Domain, FraudClaim, OutputCommitment, evidence_hash

pytestmark = pytest.mark.chain
P = ChainParams()


@pytest.fixture
def ver(contracts: dict[str, Contract]) -> Contract:
    return contracts[V]


@pytest.fixture
def world(w3: Web3, contracts: dict[str, Contract]) -> dict:
    return make_world(w3, contracts)


def test_spot_checks_build_reputation_once_per_digest(w3: Web3, ver: Contract, world: dict) -> None:
    alice, bob, ref2 = world["alice"], world["bob"], world["ref2"]
    d1, d2, d3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    epoch = ver.functions.currentEpoch().call()
    receipt = send(w3, DEPLOYER, ver.functions.postSpotCheck(alice.address, d1, True))
    assert events(ver, receipt, "SpotCheckPosted") == [
        {"inferer": alice.address, "verifier": DEPLOYER.address, "epoch": epoch, "digest": d1,
         "passed": True}
    ]  # fmt: skip
    # The attack: the same check posted again to pump (or sink) a reputation.
    assert revert(w3, DEPLOYER, ver.functions.postSpotCheck(alice.address, d1, True), V) == (
        "VerificationAlreadySpotChecked",
        (DEPLOYER.address, d1),
    )
    send(w3, ref2, ver.functions.postSpotCheck(alice.address, d1, True))  # another verifier may
    send(w3, DEPLOYER, ver.functions.postSpotChecks(
        [alice.address, bob.address], [d2, d3], [False, True]))  # fmt: skip
    assert ver.functions.reputationOf(alice.address, epoch).call() == (2, 1)
    assert ver.functions.reputationOf(bob.address, epoch).call() == (1, 0)
    assert ver.functions.isSpotChecked(DEPLOYER.address, d2).call()
    advance(w3, P.verification_epoch_s)
    send(w3, DEPLOYER, ver.functions.postSpotCheck(alice.address, b"\x04" * 32, True))
    assert ver.functions.reputationOf(alice.address, epoch + 1).call() == (1, 0)
    assert ver.functions.reputationTotal(alice.address).call() == (3, 1)
    assert revert(w3, alice, ver.functions.postSpotCheck(bob.address, d1, False), V) == (
        "VerificationNotVerifier",
        (alice.address,),
    )
    assert revert(w3, DEPLOYER, ver.functions.postSpotChecks([alice.address], [d1], []), V) == (
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
    assert (c[0], c[2], c[3], c[4], c[7], c[11]) == (
        alice.address, DEPLOYER.address, 1, 0, SESSION, 10 * MIN_STAKE,
    )  # fmt: skip
    assert staking.functions.isFrozen(alice.address).call()
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
    reward = min(amount * P.slash_reporter_bps // 10_000, P.reporter_cap)
    assert reward == P.reporter_cap == 50 * HELIO  # the cap binds at these sizes
    (ev,) = events(ver, receipt, "FraudSlashed")
    assert ev == {"claimId": cid, "accused": alice.address, "amount": amount, "burned": amount // 2,
                  "toReporter": reward, "toTreasury": amount - amount // 2 - reward}  # fmt: skip
    assert staking.functions.stakeOf(alice.address).call()[0] == 9 * MIN_STAKE
    assert token.functions.totalSupply().call() == supply - amount // 2
    assert token.functions.balanceOf(DEPLOYER.address).call() == reporter_before + reward
    assert token.functions.balanceOf(contracts["HelioTimelock"].address).call() == (
        amount - amount // 2 - reward
    )
    assert ver.functions.claimOf(cid).call()[4] == 2  # Slashed
    assert not staking.functions.isFrozen(alice.address).call()
    assert staking.functions.isJailed(alice.address).call()
    assert revert(w3, DEPLOYER, ver.functions.executeSlash(cid), V) == (
        "VerificationWrongStatus",
        (cid, 2),
    )


def test_one_claim_per_accused_and_session(w3: Web3, ver: Contract, world: dict) -> None:
    """The attack: one session of N steps, N separate 10 % claims."""
    cid = claim(w3, ver, world, step=3)
    accused, others = evidence(ver, world, step=4)
    assert revert(w3, DEPLOYER, ver.functions.submitFraudClaim(
        world["alice"].address, accused, others), V) == (
        "VerificationSessionClaimed", (world["alice"].address, SESSION))  # fmt: skip
    assert ver.functions.claimIdOf(world["alice"].address, SESSION).call() == [True, cid]
    claim(w3, ver, world, session=b"\x06" * 32)  # another session is another offence


def test_confirm_with_relayed_signatures(w3: Web3, ver: Contract, world: dict) -> None:
    cid = claim(w3, ver, world)
    accused, _, reporter, *_rest = ver.functions.claimOf(cid).call()
    inp, out, ev = _rest[5], _rest[6], _rest[7]
    # The evidence hash is what node/crypto/eip712.py computes from the digests.
    domain = Domain.of(ver)
    digests = [
        OutputCommitment(SESSION, 3, INPUT, o, fp).digest(domain)
        for o, fp in ((b"\xaa" * 32, FP_LIE), (b"\xbb" * 32, FP_TRUE), (b"\xbc" * 32, FP_TRUE))
    ]
    assert ev == evidence_hash(digests)
    fc = FraudClaim(accused, reporter, inp, out, ev)
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


def test_fraud_claim_evidence_is_checked(w3: Web3, ver: Contract, world: dict) -> None:
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    a, good = evidence(ver, world)

    def submit(accused: str, acc: tuple, others: list) -> tuple:
        return revert(w3, DEPLOYER, ver.functions.submitFraudClaim(accused, acc, others), V)

    assert submit(alice.address, a, good[:1]) == ("VerificationConflictCount", (1, 2, 8))
    assert submit(bob.address, a, good) == (
        "VerificationBadSignature",
        (0, alice.address, bob.address),
    )
    assert submit(
        alice.address, a, [good[0], commit(ver, carol, b"\xbc" * 32, FP_TRUE, inp=b"\x22" * 32)]
    ) == ("VerificationInputMismatch", (2,))
    # The attack the issue names: "conflicting" results that only differ from the accused's,
    # not agree with each other (two colluders with two different made-up outputs).
    assert submit(alice.address, a, [good[0], commit(ver, carol, b"\xbc" * 32, b"\xf3" * 32)]) == (
        "VerificationConflictsDisagree",
        (2,),
    )
    zero = b"\0" * 32  # commitments without a fingerprint accuse nobody
    assert submit(alice.address, a, [commit(ver, bob, b"\xbb" * 32, zero),
                                     commit(ver, carol, b"\xbc" * 32, zero)]) == (
        "VerificationConflictsDisagree", (1,))  # fmt: skip
    # Exact-hash inequality is not evidence: the independents' fingerprint equals the accused's.
    agreeing = [commit(ver, bob, b"\xbb" * 32, FP_LIE), commit(ver, carol, b"\xbc" * 32, FP_LIE)]
    assert submit(alice.address, a, agreeing) == ("VerificationFingerprintsAgree", (1,))
    assert submit(alice.address, a, [good[0], commit(ver, bob, b"\xbd" * 32, FP_TRUE)]) == (
        "VerificationDuplicateSigner",
        (2, bob.address),
    )
    assert submit(alice.address, a, [good[0], commit(ver, alice, b"\xbd" * 32, FP_TRUE)]) == (
        "VerificationDuplicateSigner",
        (2, alice.address),
    )
    nobody = actor("nobody")
    assert submit(alice.address, a, [good[0], commit(ver, nobody, b"\xbd" * 32, FP_TRUE)]) == (
        "VerificationSignerNotActive",
        (2, nobody.address),
    )
    assert revert(w3, alice, ver.functions.submitFraudClaim(alice.address, a, good), V) == (
        "VerificationNotVerifier",
        (alice.address,),
    )


def test_parameters_by_governance(w3: Web3, contracts: dict[str, Contract], ver: Contract) -> None:
    timelock = contracts["HelioTimelock"].address
    staking = contracts["StakingRegistry"]
    assert ver.functions.parameters().call() == P.verification_parameters()
    assert ver.functions.epochLength().call() == P.verification_epoch_s
    window = P.challenge_window_s + P.dispute_window_s + P.claim_ttl_s
    assert ver.functions.evidenceWindow().call() == window
    assert staking.functions.evidenceWindow().call() == window  # read when the role was granted
    assert window <= P.unbonding_delay_s
    new = (2_000, 10_000, 0, 3, 1, 60, 600, 120, 4, 3600, 10 * HELIO)
    receipt = as_timelock(w3, timelock, ver.functions.setParameters(new))
    assert tuple(events(ver, receipt, "ParametersSet")[0]["parameters"].values()) == new
    assert staking.functions.evidenceWindow().call() == 780  # kept in step
    assert (
        revert(w3, DEPLOYER, ver.functions.setParameters(new), V)[0]
        == "AccessControlUnauthorizedAccount"
    )
    too_long = (*new[:6], P.unbonding_delay_s, *new[7:])  # window > the unbonding delay
    no_escalation = (*new[:8], 3, *new[9:])  # dispute quorum must exceed the quorum
    for bad in ((0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 0), too_long, no_escalation):
        with pytest.raises(Exception):  # noqa: B017 (impersonated: the revert is in estimation)
            as_timelock(w3, timelock, ver.functions.setParameters(bad))


def test_constructor_refuses_an_evidence_window_past_unbonding(
    w3: Web3, contracts: dict[str, Contract]
) -> None:
    from node.chain.artifacts import load_artifact

    art = load_artifact(V)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    params = list(P.verification_parameters())
    params[6] = P.unbonding_delay_s  # claimTtl alone as long as unbonding
    args = (contracts["HelioToken"].address, contracts["StakingRegistry"].address,
            DEPLOYER.address, DEPLOYER.address, 3600, tuple(params))  # fmt: skip
    with pytest.raises(Exception, match="0x"):
        send(w3, DEPLOYER, factory.constructor(*args))
