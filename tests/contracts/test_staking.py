"""StakingRegistry on anvil: node records, stake/unbonding/withdraw, delegation pools,
checkpointed voting power, slashing by the SLASHER_ROLE only, governance parameters.
(Freezing, jailing, slashable unbonding and pool edge cases: test_staking_slashing.py.)"""

from __future__ import annotations

import pytest
from chainkit import (
    HELIO,
    MIN_STAKE,
    actor,
    advance,
    as_timelock,
    events,
    fund_eth,
    give_tokens,
    make_inferer,
    now,
    revert,
    send,
)  # fmt: skip
from web3 import Web3
from web3.contract import Contract

pytestmark = pytest.mark.chain
S = "StakingRegistry"
DELAY = 2 * 24 * 3600
VIRTUAL_SHARES = 1_000  # the pool's ERC-4626-style offset (StakingRegistry._VIRTUAL_SHARES)


def redeem_value(shares: int, pool_stake: int, pool_shares: int) -> int:
    """What ``shares`` redeem for, with the contract's virtual offset (rounded down)."""
    return shares * (pool_stake + 1) // (pool_shares + VIRTUAL_SHARES)


@pytest.fixture
def staking(contracts: dict[str, Contract]) -> Contract:
    return contracts[S]


def test_register_records_the_node_and_emits(w3: Web3, staking: Contract) -> None:
    alice = actor("alice")
    fund_eth(w3, alice)
    receipt = send(
        w3, alice, staking.functions.register("12D3KooWabc", alice.address, "Europe/Berlin", 25)
    )
    assert events(staking, receipt, "NodeRegistered") == [{
        "inferer": alice.address, "peerId": "12D3KooWabc", "attestationKey": alice.address,
        "region": "Europe/Berlin", "capacity": 25,
    }]  # fmt: skip
    key, capacity, registered_at, peer, region = staking.functions.nodeOf(alice.address).call()
    assert (key, capacity, peer, region) == (alice.address, 25, "12D3KooWabc", "Europe/Berlin")
    assert registered_at == now(w3)
    assert staking.functions.attestationKeyOf(alice.address).call() == alice.address
    assert not staking.functions.isActive(alice.address).call()  # no stake yet
    assert staking.functions.delegates(alice.address).call() == alice.address


@pytest.mark.parametrize(
    ("peer", "key", "region", "error"),
    [
        ("", "alice", "", ("StakingInvalidPeerId", (0,))),
        ("x" * 129, "alice", "", ("StakingInvalidPeerId", (129,))),
        ("p", "zero", "", ("StakingInvalidAttestationKey", ("0x" + "00" * 20,))),
        ("p", "alice", "r" * 65, ("StakingInvalidRegion", (65,))),
    ],
)
def test_register_rejects_bad_records(
    w3: Web3, staking: Contract, peer: str, key: str, region: str, error: tuple
) -> None:
    alice = actor("alice")
    fund_eth(w3, alice)
    address = alice.address if key == "alice" else "0x" + "00" * 20
    if error[1] and error[1][0] == "0x" + "00" * 20:
        error = (error[0], (Web3.to_checksum_address(error[1][0]),))
    assert revert(w3, alice, staking.functions.register(peer, address, region, 1), S) == error


def test_register_twice_and_update_unregistered(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    assert revert(w3, alice, staking.functions.register("p", alice.address, "", 1), S) == (
        "StakingAlreadyRegistered",
        (alice.address,),
    )
    bob = actor("bob")
    give_tokens(w3, contracts["HelioToken"], bob, 0)
    assert revert(w3, bob, staking.functions.updateNode("p", bob.address, "", 1), S) == (
        "StakingNotRegistered",
        (bob.address,),
    )
    assert revert(w3, bob, staking.functions.stake(1), S) == (
        "StakingNotRegistered",
        (bob.address,),
    )


def test_update_node_changes_record_and_emits(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    key = actor("alice-attest").address
    receipt = send(w3, alice, staking.functions.updateNode("12D3KooWnew", key, "Asia/Tokyo", 99))
    assert events(staking, receipt, "NodeUpdated")[0]["attestationKey"] == key
    assert staking.functions.attestationKeyOf(alice.address).call() == key


def test_stake_unstake_withdraw_cycle(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    token = contracts["HelioToken"]
    alice = make_inferer(w3, contracts, "alice", stake=3 * MIN_STAKE)
    assert staking.functions.isActive(alice.address).call()
    assert staking.functions.stakeOf(alice.address).call() == (3 * MIN_STAKE, 0, 0)
    balance = token.functions.balanceOf(alice.address).call()

    receipt = send(w3, alice, staking.functions.requestUnstake(MIN_STAKE))
    (ev,) = events(staking, receipt, "UnstakeRequested")
    assert ev == {"account": alice.address, "amount": MIN_STAKE, "releaseAt": now(w3) + DELAY}
    assert staking.functions.unbondingOf(alice.address).call() == (MIN_STAKE, now(w3) + DELAY)
    assert revert(w3, alice, staking.functions.withdraw(), S)[0] == "StakingStillUnbonding"

    advance(w3, DELAY)
    receipt = send(w3, alice, staking.functions.withdraw())
    assert events(staking, receipt, "Withdrawn") == [
        {"account": alice.address, "amount": MIN_STAKE}
    ]
    assert token.functions.balanceOf(alice.address).call() == balance + MIN_STAKE
    assert revert(w3, alice, staking.functions.withdraw(), S) == (
        "StakingNothingToWithdraw",
        (alice.address,),
    )


def test_stake_and_unstake_limits(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    token = contracts["HelioToken"]
    alice = make_inferer(w3, contracts, "alice", stake=2 * MIN_STAKE)
    send(w3, alice, token.functions.approve(staking.address, 10**30))
    assert revert(w3, alice, staking.functions.stake(0), S) == ("StakingZeroAmount", ())
    assert revert(w3, alice, staking.functions.requestUnstake(0), S) == ("StakingZeroAmount", ())
    assert revert(w3, alice, staking.functions.requestUnstake(3 * MIN_STAKE), S) == (
        "StakingInsufficientStake",
        (2 * MIN_STAKE, 3 * MIN_STAKE),
    )
    # Leaving a remainder below the minimum is refused; leaving zero is allowed.
    assert revert(w3, alice, staking.functions.requestUnstake(MIN_STAKE + 1), S) == (
        "StakingBelowMinimum",
        (MIN_STAKE - 1, MIN_STAKE),
    )
    send(w3, alice, staking.functions.requestUnstake(2 * MIN_STAKE))
    assert not staking.functions.isActive(alice.address).call()
    # A first stake below the minimum is refused.
    bob = actor("bob")
    give_tokens(w3, token, bob, MIN_STAKE)
    send(w3, bob, staking.functions.register("p", bob.address, "", 1))
    send(w3, bob, token.functions.approve(staking.address, MIN_STAKE))
    assert revert(w3, bob, staking.functions.stake(MIN_STAKE - 1), S) == (
        "StakingBelowMinimum",
        (MIN_STAKE - 1, MIN_STAKE),
    )


def test_voting_power_is_checkpointed(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice", stake=2 * MIN_STAKE)
    block_staked = w3.eth.block_number
    send(w3, alice, staking.functions.requestUnstake(MIN_STAKE))
    block_unstaked = w3.eth.block_number
    advance(w3)
    assert staking.functions.getPastVotes(alice.address, block_staked).call() == 2 * MIN_STAKE
    assert staking.functions.getPastVotes(alice.address, block_unstaked).call() == MIN_STAKE
    assert staking.functions.getVotes(alice.address).call() == MIN_STAKE
    assert staking.functions.getPastTotalSupply(block_staked).call() == 2 * MIN_STAKE
    future = w3.eth.block_number + 5
    with pytest.raises(Exception, match="0x"):
        staking.functions.getPastVotes(alice.address, future).call()
    assert staking.functions.clock().call() == w3.eth.block_number
    assert staking.functions.CLOCK_MODE().call() == "mode=blocknumber&from=default"


def test_votes_cannot_be_moved(w3: Web3, contracts: dict[str, Contract], staking: Contract) -> None:
    alice = make_inferer(w3, contracts, "alice")
    assert revert(w3, alice, staking.functions.delegate(actor("bob").address), S) == (
        "StakingVotesNotTransferable",
        (),
    )
    call = staking.functions.delegateBySig(alice.address, 0, 0, 27, b"\x00" * 32, b"\x00" * 32)
    assert revert(w3, alice, call, S) == ("StakingVotesNotTransferable", ())


def test_delegation_shares_rewards_and_power(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    token = contracts["HelioToken"]
    alice = make_inferer(w3, contracts, "alice")
    dave = actor("dave")
    give_tokens(w3, token, dave, 1_000 * HELIO)
    send(w3, dave, token.functions.approve(staking.address, 1_000 * HELIO))
    receipt = send(w3, dave, staking.functions.delegateStake(alice.address, 400 * HELIO))
    assert events(staking, receipt, "Delegated") == [
        {
            "delegator": dave.address,
            "inferer": alice.address,
            "amount": 400 * HELIO,
            "shares": 400 * HELIO * VIRTUAL_SHARES,
        }
    ]
    assert staking.functions.getVotes(alice.address).call() == MIN_STAKE + 400 * HELIO
    assert staking.functions.getVotes(dave.address).call() == 0  # only inferers vote

    receipt = send(w3, dave, staking.functions.addDelegatorRewards(alice.address, 100 * HELIO))
    assert events(staking, receipt, "DelegatorRewardsAdded")[0]["amount"] == 100 * HELIO
    shares = staking.functions.sharesOf(dave.address, alice.address).call()
    receipt = send(w3, dave, staking.functions.requestUndelegate(alice.address, shares))
    (ev,) = events(staking, receipt, "UndelegateRequested")
    # The reward came back with the shares (less the virtual offset's rounding, < 1 wei).
    assert ev["amount"] == redeem_value(shares, 500 * HELIO, shares) == 500 * HELIO - 1
    assert staking.functions.delegatorUnbondingOf(dave.address, alice.address).call()[0] == (
        500 * HELIO - 1
    )
    assert staking.functions.unbondingOf(dave.address).call()[0] == 0  # own stake only
    assert staking.functions.getVotes(alice.address).call() == MIN_STAKE + 1  # the dust stays


def test_delegation_reverts(w3: Web3, contracts: dict[str, Contract], staking: Contract) -> None:
    token = contracts["HelioToken"]
    alice = make_inferer(w3, contracts, "alice")
    dave = actor("dave")
    give_tokens(w3, token, dave, 10 * HELIO)
    send(w3, dave, token.functions.approve(staking.address, 10 * HELIO))
    bob = actor("bob")
    assert revert(w3, dave, staking.functions.delegateStake(bob.address, HELIO), S) == (
        "StakingInfererInactive",
        (bob.address,),
    )
    assert revert(w3, dave, staking.functions.delegateStake(alice.address, 0), S) == (
        "StakingZeroAmount",
        (),
    )
    assert revert(w3, dave, staking.functions.requestUndelegate(alice.address, 0), S) == (
        "StakingZeroAmount",
        (),
    )
    assert revert(w3, dave, staking.functions.requestUndelegate(alice.address, 1), S) == (
        "StakingInsufficientShares",
        (0, 1),
    )
    assert revert(w3, dave, staking.functions.addDelegatorRewards(alice.address, 0), S) == (
        "StakingZeroAmount",
        (),
    )
    assert revert(w3, dave, staking.functions.addDelegatorRewards(alice.address, 1), S) == (
        "StakingInsufficientShares",
        (0, 1),
    )


def test_only_the_slasher_slashes(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    name, (account, role) = revert(
        w3, alice, staking.functions.slashAmount(alice.address, 100, alice.address), S
    )
    assert (name, account) == ("AccessControlUnauthorizedAccount", alice.address)
    assert role == staking.functions.SLASHER_ROLE().call()
    assert staking.functions.hasRole(role, contracts["Verification"].address).call()


def test_slash_takes_from_stake_pool_and_unbonding(
    w3: Web3, contracts: dict[str, Contract], staking: Contract
) -> None:
    token = contracts["HelioToken"]
    alice = make_inferer(w3, contracts, "alice", stake=4 * MIN_STAKE)
    send(w3, alice, staking.functions.requestUnstake(2 * MIN_STAKE))
    dave = actor("dave")
    give_tokens(w3, token, dave, 1_000 * HELIO)
    send(w3, dave, token.functions.approve(staking.address, 1_000 * HELIO))
    send(w3, dave, staking.functions.delegateStake(alice.address, 1_000 * HELIO))
    # Stand in for Verification: the Timelock (admin) grants a slasher to a test key.
    slasher = actor("slasher")
    give_tokens(w3, token, slasher, 0)
    as_timelock(w3, contracts["HelioTimelock"].address,
                staking.functions.grantRole(staking.functions.SLASHER_ROLE().call(), slasher.address))  # fmt: skip
    total = 2 * MIN_STAKE + 1_000 * HELIO + 2 * MIN_STAKE
    assert staking.functions.slashableOf(alice.address).call() == total
    receipt = send(
        w3, slasher, staking.functions.slashAmount(alice.address, total // 10, slasher.address)
    )
    assert events(staking, receipt, "Slashed") == [
        {"inferer": alice.address, "amount": total // 10, "fromSelf": 2 * MIN_STAKE // 10,
         "to": slasher.address}
    ]  # fmt: skip
    assert token.functions.balanceOf(slasher.address).call() == total // 10
    assert staking.functions.stakeOf(alice.address).call()[:2] == (
        2 * MIN_STAKE * 9 // 10,
        900 * HELIO,
    )
    assert staking.functions.unbondingOf(alice.address).call()[0] == 2 * MIN_STAKE * 9 // 10
    # More than there is: everything, and no more.
    receipt = send(
        w3, slasher, staking.functions.slashAmount(alice.address, 10 * total, slasher.address)
    )
    assert events(staking, receipt, "Slashed")[0]["amount"] == total * 9 // 10
    assert staking.functions.slashableOf(alice.address).call() == 0
    assert token.functions.balanceOf(slasher.address).call() == total


def test_governance_parameters(w3: Web3, contracts: dict[str, Contract], staking: Contract) -> None:
    alice = make_inferer(w3, contracts, "alice")
    timelock = contracts["HelioTimelock"].address
    assert (
        revert(w3, alice, staking.functions.setMinStake(1), S)[0]
        == "AccessControlUnauthorizedAccount"
    )
    receipt = as_timelock(w3, timelock, staking.functions.setMinStake(5 * MIN_STAKE))
    assert events(staking, receipt, "MinStakeSet") == [
        {"oldMinStake": MIN_STAKE, "newMinStake": 5 * MIN_STAKE}
    ]
    assert not staking.functions.isActive(alice.address).call()  # below the new minimum
    window = staking.functions.evidenceWindow().call()
    assert window == contracts["Verification"].functions.evidenceWindow().call() > 0
    receipt = as_timelock(w3, timelock, staking.functions.setUnbondingDelay(window))
    assert events(staking, receipt, "UnbondingDelaySet") == [
        {"oldDelay": DELAY, "newDelay": window}
    ]
    with pytest.raises(Exception):  # noqa: B017 (StakingDelayBelowEvidenceWindow in estimation)
        as_timelock(w3, timelock, staking.functions.setUnbondingDelay(window - 1))
    with pytest.raises(Exception):  # noqa: B017 (the impersonated tx reverts in estimation)
        as_timelock(w3, timelock, staking.functions.setUnbondingDelay(366 * 24 * 3600))


def test_capacity_weighted_power(w3: Web3, contracts: dict[str, Contract]) -> None:
    """A registry deployed with w = 50 % and capRef = 100: power follows the documented formula."""
    from node.chain.artifacts import load_artifact
    from node.chain.devkeys import DEV_ACCOUNTS

    art = load_artifact(S)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    token = contracts["HelioToken"]
    address = send(
        w3,
        DEV_ACCOUNTS[0],
        factory.constructor(token.address, DEV_ACCOUNTS[0].address, MIN_STAKE, 60, 5_000, 100),
    )["contractAddress"]
    weighted = w3.eth.contract(address=address, abi=art.abi)
    assert weighted.functions.powerFor(1_000, 0).call() == 1_000
    assert weighted.functions.powerFor(1_000, 50).call() == 1_250
    assert weighted.functions.powerFor(1_000, 400).call() == 1_500  # capped at capRef
    alice = actor("alice")
    give_tokens(w3, token, alice, MIN_STAKE)
    send(w3, alice, weighted.functions.register("p", alice.address, "", 100))
    send(w3, alice, token.functions.approve(address, MIN_STAKE))
    send(w3, alice, weighted.functions.stake(MIN_STAKE))
    assert weighted.functions.getVotes(alice.address).call() == MIN_STAKE * 3 // 2
    send(w3, alice, weighted.functions.updateNode("p", alice.address, "", 0))
    assert weighted.functions.getVotes(alice.address).call() == MIN_STAKE
    for bad in (
        (token.address, alice.address, 0, 0, 10_001, 1),
        (token.address, alice.address, 0, 0, 0, 0),
    ):
        with pytest.raises(Exception, match="StakingInvalidParameter|0x"):
            send(w3, DEV_ACCOUNTS[0], factory.constructor(*bad))
