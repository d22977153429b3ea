"""Verification's escalation and its ends, on anvil: the stake frozen at submission (the
accused and its delegators cannot leave, the slash is sized from the frozen amount), the
reporter paid only from the accused's own stake, a dispute judged by a committee of
verifiers who are not the accusers (upheld: the accused is slashed; lost: the colluding
accusers are), claims that expire, and jailing until a new registration."""

from __future__ import annotations

import pytest
from chainkit import DEPLOYER, HELIO, MIN_STAKE, actor, advance, events, give_tokens, revert, send
from verifykit import V, claim, make_world
from web3 import Web3
from web3.contract import Contract

from node.chain.params import ChainParams

pytestmark = pytest.mark.chain
P = ChainParams()
S = "StakingRegistry"
BPS = 10_000


@pytest.fixture
def ver(contracts: dict[str, Contract]) -> Contract:
    return contracts[V]


@pytest.fixture
def staking(contracts: dict[str, Contract]) -> Contract:
    return contracts[S]


@pytest.fixture
def world(w3: Web3, contracts: dict[str, Contract]) -> dict:
    return make_world(w3, contracts, verifiers=5)


def _delegator(w3: Web3, contracts: dict[str, Contract], inferer: str, amount: int):  # noqa: ANN202
    dave = actor("dave")
    token, staking = contracts["HelioToken"], contracts[S]
    give_tokens(w3, token, dave, 10 * amount)
    send(w3, dave, token.functions.approve(staking.address, 10 * amount))
    send(w3, dave, staking.functions.delegateStake(inferer, amount))
    return dave


def test_stake_frozen_at_submission_and_slash_sized_from_it(
    w3: Web3, contracts: dict[str, Contract], ver: Contract, staking: Contract, world: dict
) -> None:
    """The attacks: undelegating out of a pending slash, unstaking after the claim, and a
    slash sized at execution (after the stake left) instead of at the offence."""
    alice = world["alice"]
    dave = _delegator(w3, contracts, alice.address, 4 * MIN_STAKE)
    shares = staking.functions.sharesOf(dave.address, alice.address).call()
    # Half the pool leaves before the claim: its unbonding entry stays slashable.
    send(w3, dave, staking.functions.requestUndelegate(alice.address, shares // 2))
    frozen = staking.functions.slashableOf(alice.address).call()
    assert frozen == 14 * MIN_STAKE
    cid = claim(w3, ver, world)
    assert ver.functions.claimOf(cid).call()[11] == frozen
    for who, call in (
        (alice, staking.functions.requestUnstake(MIN_STAKE)),
        (dave, staking.functions.requestUndelegate(alice.address, shares // 4)),
        (dave, staking.functions.delegateStake(alice.address, HELIO)),
    ):
        assert revert(w3, who, call, S) == ("StakingFrozen", (alice.address,))
    advance(w3, P.unbonding_delay_s)  # dave's entry is released, but the inferer is frozen
    assert revert(w3, dave, staking.functions.withdrawFrom(alice.address), S) == (
        "StakingFrozen", (alice.address,))  # fmt: skip
    # Rewards keep arriving; the slash is still sized from the frozen amount.
    send(w3, dave, staking.functions.addDelegatorRewards(alice.address, 2 * MIN_STAKE))
    # (the claim's execution window passed with the time warp: a fresh claim instead)
    send(w3, DEPLOYER, ver.functions.expireClaim(cid))
    dave_unbonding = staking.functions.delegatorUnbondingOf(dave.address, alice.address).call()[0]
    frozen = staking.functions.slashableOf(alice.address).call()
    cid = claim(w3, ver, world, session=b"\x07" * 32)
    send(w3, dave, staking.functions.addDelegatorRewards(alice.address, 2 * MIN_STAKE))
    send(w3, world["ref2"], ver.functions.confirmClaim(cid))
    advance(w3, P.challenge_window_s)
    receipt = send(w3, DEPLOYER, ver.functions.executeSlash(cid))
    (ev,) = events(ver, receipt, "FraudSlashed")
    assert ev["amount"] == frozen * P.slash_bps // BPS
    after = staking.functions.delegatorUnbondingOf(dave.address, alice.address).call()[0]
    assert after < dave_unbonding  # the delegator's unbonding entry paid its share
    send(w3, dave, staking.functions.withdrawFrom(alice.address))  # unfrozen: it leaves now


def test_reporter_paid_only_from_own_stake_and_capped(
    w3: Web3, contracts: dict[str, Contract], ver: Contract, staking: Contract, world: dict
) -> None:
    """The attack: an inferer with a big pool and a friendly reporter self-slash, and the
    reporter's 30 % comes out of the delegators' tokens."""
    token, alice = contracts["HelioToken"], world["alice"]
    _delegator(w3, contracts, alice.address, 90 * MIN_STAKE)
    cid = claim(w3, ver, world)
    send(w3, world["ref2"], ver.functions.confirmClaim(cid))
    advance(w3, P.challenge_window_s)
    before = token.functions.balanceOf(DEPLOYER.address).call()
    receipt = send(w3, DEPLOYER, ver.functions.executeSlash(cid))
    (ev,) = events(ver, receipt, "FraudSlashed")
    (sl,) = events(staking, receipt, "Slashed")
    assert sl["fromSelf"] == 10 * MIN_STAKE * P.slash_bps // BPS  # 10 % of the pool is not it
    assert ev["toReporter"] == min(sl["fromSelf"] * P.slash_reporter_bps // BPS, P.reporter_cap)
    assert ev["toReporter"] == P.reporter_cap < ev["amount"] * P.slash_reporter_bps // BPS
    assert token.functions.balanceOf(DEPLOYER.address).call() == before + P.reporter_cap


def _dispute(w3: Web3, ver: Contract, world: dict) -> int:
    cid = claim(w3, ver, world)  # reporter ref1; conflicting signers bob, carol
    send(w3, world["ref2"], ver.functions.confirmClaim(cid))
    receipt = send(w3, world["alice"], ver.functions.dispute(cid))
    assert events(ver, receipt, "ClaimDisputed")[0]["claimId"] == cid
    return cid


def test_dispute_upheld_slashes_the_accused(
    w3: Web3, ver: Contract, staking: Contract, world: dict
) -> None:
    cid = _dispute(w3, ver, world)
    accusers = ver.functions.accusersOf(cid).call()
    assert set(accusers) == {world[n].address for n in ("ref1", "bob", "carol", "ref2")}
    assert all(staking.functions.isFrozen(a).call() for a in accusers)
    # Accusers cannot sit on their own committee; outsiders vote.
    assert revert(w3, world["ref2"], ver.functions.confirmClaim(cid), V) == (
        "VerificationAccuserVotes", (cid, world["ref2"].address))  # fmt: skip
    for n in ("ref3", "ref4", "ref5"):
        send(w3, world[n], ver.functions.confirmClaim(cid))
    assert revert(w3, DEPLOYER, ver.functions.executeSlash(cid), V) == (
        "VerificationWrongStatus", (cid, 1))  # fmt: skip
    assert revert(w3, DEPLOYER, ver.functions.resolveDispute(cid), V)[0] == (
        "VerificationChallengeWindowOpen")  # fmt: skip
    advance(w3, P.dispute_window_s)
    receipt = send(w3, DEPLOYER, ver.functions.resolveDispute(cid))
    assert events(ver, receipt, "FraudSlashed")[0]["amount"] == 10 * MIN_STAKE * P.slash_bps // BPS
    assert ver.functions.claimOf(cid).call()[4] == 2  # Slashed
    assert staking.functions.isJailed(world["alice"].address).call()
    assert not any(staking.functions.isFrozen(a).call() for a in accusers)


def test_colluding_accusers_lose_the_dispute(
    w3: Web3, contracts: dict[str, Contract], ver: Contract, staking: Contract, world: dict
) -> None:
    """A colluding pair of verifiers (and the inferers who signed their made-up results)
    accuse an honest inferer; the committee does not follow; the accusers pay."""
    token, alice = contracts["HelioToken"], world["alice"]
    cid = _dispute(w3, ver, world)
    accusers = ver.functions.accusersOf(cid).call()
    stakes = {a: staking.functions.slashableOf(a).call() for a in accusers}
    send(w3, world["ref3"], ver.functions.confirmClaim(cid))  # one guilty vote of 3 needed
    send(w3, world["ref4"], ver.functions.rejectClaim(cid))
    assert revert(w3, world["ref4"], ver.functions.rejectClaim(cid), V) == (
        "VerificationAlreadyConfirmed", (cid, world["ref4"].address))  # fmt: skip
    advance(w3, P.dispute_window_s)
    assert revert(w3, world["ref5"], ver.functions.rejectClaim(cid), V)[0] == (
        "VerificationWindowClosed")  # fmt: skip
    alice_before = token.functions.balanceOf(alice.address).call()
    receipt = send(w3, DEPLOYER, ver.functions.resolveDispute(cid))
    (ev,) = events(ver, receipt, "AccusersSlashed")
    assert ev["amount"] == sum(s * P.slash_bps // BPS for s in stakes.values())
    for a, s in stakes.items():
        assert staking.functions.slashableOf(a).call() == s - s * P.slash_bps // BPS
        assert staking.functions.isJailed(a).call() and not staking.functions.isFrozen(a).call()
    assert ver.functions.claimOf(cid).call()[4] == 3  # Rejected
    assert token.functions.balanceOf(alice.address).call() == alice_before + ev["toAccused"] > 0
    assert staking.functions.slashableOf(alice.address).call() == 10 * MIN_STAKE  # untouched
    assert staking.functions.isActive(alice.address).call()
    assert not staking.functions.isFrozen(alice.address).call()


def test_dispute_only_by_the_accused_in_the_window(w3: Web3, ver: Contract, world: dict) -> None:
    cid = claim(w3, ver, world)
    assert revert(w3, world["bob"], ver.functions.dispute(cid), V) == (
        "VerificationNotAccused", (world["bob"].address,))  # fmt: skip
    assert revert(w3, world["ref3"], ver.functions.rejectClaim(cid), V) == (
        "VerificationWrongStatus", (cid, 0))  # fmt: skip
    advance(w3, P.challenge_window_s)
    assert (
        revert(w3, world["alice"], ver.functions.dispute(cid), V)[0] == "VerificationWindowClosed"
    )


def test_claims_expire_and_release_the_stake(
    w3: Web3, ver: Contract, staking: Contract, world: dict
) -> None:
    alice = world["alice"]
    cid = claim(w3, ver, world)
    assert revert(w3, DEPLOYER, ver.functions.expireClaim(cid), V)[0] == (
        "VerificationChallengeWindowOpen")  # fmt: skip
    send(w3, world["ref2"], ver.functions.confirmClaim(cid))
    advance(w3, P.challenge_window_s + P.claim_ttl_s)
    assert revert(w3, DEPLOYER, ver.functions.executeSlash(cid), V)[0] == "VerificationWindowClosed"
    assert revert(w3, world["ref3"], ver.functions.confirmClaim(cid), V)[0] == (
        "VerificationWindowClosed")  # fmt: skip
    receipt = send(w3, alice, ver.functions.expireClaim(cid))
    assert events(ver, receipt, "ClaimExpired") == [{"claimId": cid}]
    assert ver.functions.claimOf(cid).call()[4] == 4  # Expired
    assert not staking.functions.isFrozen(alice.address).call()
    send(w3, alice, staking.functions.requestUnstake(MIN_STAKE))


def test_jailed_until_registered_again(
    w3: Web3, ver: Contract, staking: Contract, world: dict
) -> None:
    alice = world["alice"]
    assert staking.functions.getVotes(alice.address).call() == 10 * MIN_STAKE
    cid = claim(w3, ver, world)
    send(w3, world["ref2"], ver.functions.confirmClaim(cid))
    advance(w3, P.challenge_window_s)
    send(w3, DEPLOYER, ver.functions.executeSlash(cid))
    until = staking.functions.jailedUntil(alice.address).call()
    assert staking.functions.isJailed(alice.address).call()
    assert not staking.functions.isActive(alice.address).call()  # the stake check excludes it
    assert staking.functions.getVotes(alice.address).call() == 0  # and governance too
    assert not ver.functions.isVerifier(alice.address).call()
    record = ("12D3KooWalice2", alice.address, "UTC", 10)
    assert revert(w3, alice, staking.functions.register(*record), S) == (
        "StakingJailed", (alice.address, until))  # fmt: skip
    advance(w3, P.jail_duration_s)
    receipt = send(w3, alice, staking.functions.register(*record))
    assert events(staking, receipt, "Unjailed") == [{"inferer": alice.address}]
    assert staking.functions.isActive(alice.address).call()
    assert staking.functions.getVotes(alice.address).call() == 9 * MIN_STAKE
    assert revert(w3, alice, staking.functions.register(*record), S) == (
        "StakingAlreadyRegistered", (alice.address,))  # fmt: skip
