"""Property tests (hypothesis stateful) of StakingRegistry under slashing, on anvil:
random sequences of stakes, unstakes, withdrawals, delegations by several delegators,
undelegations, rewards, slashes of 1-100 % (100 % included: pools wiped and reused),
freezes, jails, re-registrations and time. A test key holds SLASHER_ROLE (standing in
for Verification). Every sequence starts from the same EVM snapshot. After EVERY step:

- tokens are conserved: the registry holds exactly the sum over inferers of own stake,
  delegation pool and unbonding pool, which is exactly what went in minus what was
  withdrawn minus what was slashed; every holder's balance adds up to the supply;
- no one can redeem more than there is: the delegators' shares of each pool, and the
  unbonding entries of each inferer, are worth at most that pool;
- voting power is own + delegated stake for active inferers and 0 for the others;
- a refused step is refused with a custom error (never a panic: a division by zero of
  a wiped pool would be one), and a minimum share of the steps is accepted.

Tiers: the normal suite runs a short pass (4 sequences of up to 10 steps, plus one fixed
sequence with three delegators and two 100 % slashes);
``HELIO_PROPERTY_EXAMPLES=256`` (or more) runs 256+ sequences of up to 40 steps.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from chainkit import (
    HELIO,
    MIN_STAKE,
    actor,
    advance,
    as_timelock,
    give_tokens,
    make_inferer,
    now,
    send,
)  # fmt: skip
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

pytestmark = pytest.mark.chain
EXAMPLES = int(os.environ.get("HELIO_PROPERTY_EXAMPLES", "4"))
LONG = EXAMPLES >= 256
STEPS = 40 if LONG else 10
MIN_ACCEPTED = 0.35
VIRTUAL_SHARES = 1_000  # StakingRegistry's offset
BIG = 10**30


class World:
    """Actors set up once (every sequence starts from a snapshot of it)."""

    def __init__(self, w3: Web3, c: dict[str, Contract]) -> None:
        self.w3, self.c = w3, c
        self.token, self.staking = c["HelioToken"], c["StakingRegistry"]
        self.inferers = [make_inferer(w3, c, n, stake=2 * MIN_STAKE) for n in ("s-alice", "s-bob")]
        self.delegators = [actor(f"s-delegator-{k}") for k in range(3)]
        for who in self.delegators:
            give_tokens(w3, self.token, who, 20_000 * HELIO)
        for who in (*self.inferers, *self.delegators):
            send(w3, who, self.token.functions.approve(self.staking.address, BIG))
        self.slasher = actor("s-slasher")
        give_tokens(w3, self.token, self.slasher, 0)
        role = self.staking.functions.SLASHER_ROLE().call()
        as_timelock(w3, c["HelioTimelock"].address,
                    self.staking.functions.grantRole(role, self.slasher.address))  # fmt: skip
        self.holders = {a.address for a in (*self.inferers, *self.delegators, self.slasher)}
        self.stats: Counter[str] = Counter()


class Staking(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        self.w3, self.s = w.w3, w.staking.functions
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        self.held = w.token.functions.balanceOf(w.staking.address).call()  # Python books

    def teardown(self) -> None:
        assert self.w3.provider.make_request("evm_revert", [self.snapshot]).get("result") is True  # type: ignore[arg-type]

    def _try(self, op: str, call: Any, who: Any) -> Any:
        """Send; a custom-error refusal is allowed (counted), anything else fails the test."""
        self.world.stats[f"{op} tried"] += 1
        try:
            receipt = send(self.w3, who, call)
        except ContractCustomError:
            return None
        self.world.stats["accepted"] += 1
        self.world.stats[op] += 1
        return receipt

    def _event(self, receipt: Any, name: str) -> dict[str, Any]:
        return dict(
            getattr(self.world.staking.events, name)()
            .process_receipt(receipt, errors=DISCARD)[0]
            .args
        )

    def _inferer(self, i: int) -> str:
        return str(self.world.inferers[i].address)

    # --- inferers ------------------------------------------------------------------------

    @rule(i=st.integers(0, 1), n=st.integers(1, 3_000))
    def stake(self, i: int, n: int) -> None:
        if self._try("stake", self.s.stake(n * HELIO), self.world.inferers[i]):
            self.held += n * HELIO

    @rule(i=st.integers(0, 1), pct=st.integers(1, 120))
    def unstake(self, i: int, pct: int) -> None:
        own = self.s.stakeOf(self._inferer(i)).call()[0]
        amount = own if pct > 100 else own * pct // 100
        self._try("requestUnstake", self.s.requestUnstake(amount), self.world.inferers[i])

    @rule(i=st.integers(0, 1))
    def withdraw(self, i: int) -> None:
        receipt = self._try("withdraw", self.s.withdraw(), self.world.inferers[i])
        if receipt:
            self.held -= self._event(receipt, "Withdrawn")["amount"]

    @rule(i=st.integers(0, 1))
    def register_again(self, i: int) -> None:
        me = self.world.inferers[i]
        self._try("register", self.s.register("12D3KooWagain", me.address, "UTC", 10), me)

    # --- delegators ----------------------------------------------------------------------

    @rule(
        d=st.integers(0, 2),
        i=st.integers(0, 1),
        n=st.sampled_from([1, 10**6, 10**18, 500 * HELIO, 5_000 * HELIO]),
    )
    def delegate(self, d: int, i: int, n: int) -> None:
        if self._try(
            "delegateStake", self.s.delegateStake(self._inferer(i), n), self.world.delegators[d]
        ):
            self.held += n

    @rule(d=st.integers(0, 2), i=st.integers(0, 1), pct=st.integers(1, 100))
    def undelegate(self, d: int, i: int, pct: int) -> None:
        who = self.world.delegators[d]
        shares = self.s.sharesOf(who.address, self._inferer(i)).call() * pct // 100
        self._try("requestUndelegate", self.s.requestUndelegate(self._inferer(i), shares), who)

    @rule(d=st.integers(0, 2), i=st.integers(0, 1))
    def withdraw_from(self, d: int, i: int) -> None:
        receipt = self._try(
            "withdrawFrom", self.s.withdrawFrom(self._inferer(i)), self.world.delegators[d]
        )
        if receipt:
            self.held -= self._event(receipt, "DelegatorWithdrawn")["amount"]

    @rule(d=st.integers(0, 2), i=st.integers(0, 1), n=st.sampled_from([1, 10**18, 1_000 * HELIO]))
    def reward(self, d: int, i: int, n: int) -> None:
        if self._try(
            "addDelegatorRewards",
            self.s.addDelegatorRewards(self._inferer(i), n),
            self.world.delegators[d],
        ):
            self.held += n

    # --- the slasher -----------------------------------------------------------------------

    @rule(i=st.integers(0, 1), pct=st.sampled_from([1, 10, 50, 100, 100, 150]))
    def slash(self, i: int, pct: int) -> None:
        amount = self.s.slashableOf(self._inferer(i)).call() * pct // 100
        call = self.s.slashAmount(self._inferer(i), amount, self.world.slasher.address)
        receipt = self._try("slashAmount", call, self.world.slasher)
        if receipt:
            slashed = self._event(receipt, "Slashed") if amount else {"amount": 0}
            self.held -= slashed["amount"]

    @rule(i=st.integers(0, 1))
    def freeze_or_release(self, i: int) -> None:
        """Open a claim on an unfrozen inferer, close it on a frozen one."""
        frozen = self.s.isFrozen(self._inferer(i)).call()
        call = self.s.unfreeze(self._inferer(i)) if frozen else self.s.freeze(self._inferer(i))
        self._try("unfreeze" if frozen else "freeze", call, self.world.slasher)

    @rule(i=st.integers(0, 1))
    def jail(self, i: int) -> None:
        self._try("jail", self.s.jail(self._inferer(i), now(self.w3) + 3600), self.world.slasher)

    @rule(seconds=st.sampled_from([0, 3600, 3 * 24 * 3600]))
    def time_passes(self, seconds: int) -> None:
        advance(self.w3, seconds)

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        check_books(self.world, self.held)


def check_books(w: World, expected_held: int) -> None:
    """The invariants of the module docstring (one pass: each is a handful of eth_calls)."""
    s = w.staking.functions
    slashable = 0
    for inferer in w.inferers:
        own, pool, pool_shares = s.stakeOf(inferer.address).call()
        unbonding, _ = s.unbondingPoolOf(inferer.address).call()
        slashable += own + pool + unbonding
        held = sum(s.sharesOf(d.address, inferer.address).call() for d in w.delegators)
        assert held <= pool_shares
        assert held * (pool + 1) // (pool_shares + VIRTUAL_SHARES) <= pool
        entries = [
            s.delegatorUnbondingOf(d.address, inferer.address).call()[0] for d in w.delegators
        ]
        assert sum(entries) + s.unbondingOf(inferer.address).call()[0] <= unbonding
        active = s.isActive(inferer.address).call()
        assert s.getVotes(inferer.address).call() == (own + pool if active else 0)
    assert w.token.functions.balanceOf(w.staking.address).call() == slashable == expected_held


def test_random_slashing_sequences_conserve_tokens(
    w3: Web3, contracts: dict[str, Contract]
) -> None:
    Staking.world = World(w3, contracts)
    supply = contracts["HelioToken"].functions.totalSupply().call()
    run_state_machine_as_test(Staking, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate],
    ))  # fmt: skip
    assert contracts["HelioToken"].functions.totalSupply().call() == supply  # all reverted
    stats = Staking.world.stats
    tried = sum(n for op, n in stats.items() if op.endswith(" tried"))
    print(
        f"staking property run: {EXAMPLES} sequences, {tried} calls, {stats['accepted']} accepted; {dict(stats)}"
    )
    assert tried > 0 and stats["accepted"] / tried >= MIN_ACCEPTED, dict(stats)
    if LONG:  # the long tier reaches every kind of success at least once
        for op in (
            "slashAmount",
            "delegateStake",
            "requestUndelegate",
            "withdrawFrom",
            "withdraw",
            "register",
        ):
            assert stats[op] > 0, f"no {op} was ever accepted: {dict(stats)}"


def test_conservation_through_full_slashes_with_delegators(
    w3: Web3, contracts: dict[str, Contract]
) -> None:
    """The fixed sequence the short pass always covers: three delegators, unbonding from
    both inferers, then 100 % slashes, then the wiped pools used again."""
    w = World(w3, contracts)
    m = type("Fixed", (Staking,), {"world": w})()
    try:
        for d in range(3):
            m.delegate(d, 0, 500 * HELIO)
            m.delegate(d, 1, 10**18)
        m.undelegate(0, 0, 50)
        m.unstake(0, 50)
        m.reward(1, 0, 10**18)
        m.slash(0, 100)
        m.books_balance()
        m.slash(1, 100)
        m.books_balance()
        m.stake(0, 2_000)
        m.stake(1, 2_000)
        m.delegate(2, 0, 5_000 * HELIO)
        m.undelegate(2, 0, 100)
        m.time_passes(3 * 24 * 3600)
        for d in range(3):
            m.withdraw_from(d, 0)
        m.withdraw(0)
        m.books_balance()
        assert w.stats["slashAmount"] == 2 and w.stats["withdrawFrom"] >= 1
    finally:
        m.teardown()
