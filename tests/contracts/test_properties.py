"""Property tests (hypothesis) over random sequences of stake / unstake / withdraw /
delegate / undelegate / slash / burn / deposit / redeem / reclaim / epoch / claim / time,
each example run from the same EVM snapshot and reverted after it. After every sequence:

- tokens are conserved: supply = minted - burned, and every holder's balance (accounts
  and contracts) adds up to the supply; each contract's balance equals its books;
- voting power at every past block equals the (delegated) stake at that block;
- no voucher ever made a channel pay more than its deposit;
- nothing is claimable twice.
A step that the contracts refuse must refuse with a custom error (never a panic).
"""

from __future__ import annotations

import contextlib

import pytest
from chainkit import (
    DEPLOYER,
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
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.chain.devkeys import DEV_ACCOUNTS
from node.chain.merkle import RewardTree
from node.crypto.eip712 import Domain, Voucher, model_key

pytestmark = pytest.mark.chain
DEMO = model_key("smollm2-135m-instruct")
INFERERS = ("p-alice", "p-bob", "p-carol")

ops = st.one_of(
    st.tuples(st.just("stake"), st.integers(0, 2), st.integers(1, 3_000)),
    st.tuples(st.just("unstake"), st.integers(0, 2), st.integers(1, 100)),
    st.tuples(st.just("withdraw"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("delegate"), st.integers(0, 2), st.integers(1, 500)),
    st.tuples(st.just("undelegate"), st.integers(0, 2), st.integers(1, 100)),
    st.tuples(st.just("slash"), st.integers(0, 2), st.integers(1, 5_000)),
    st.tuples(st.just("burn"), st.just(0), st.integers(1, 100)),
    st.tuples(st.just("redeem"), st.integers(0, 1), st.integers(1, 80)),
    st.tuples(st.just("reclaim"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("epoch"), st.integers(1, 3), st.integers(1, 100)),
    st.tuples(st.just("claim"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("time"), st.sampled_from([60, 3600, 2 * 24 * 3600]), st.just(0)),
)


@pytest.fixture
def world(w3: Web3, contracts: dict[str, Contract]) -> World:
    return World(w3, contracts)  # set up once; every example starts from a snapshot of it


# No shrinking: a failing sequence is printed as is (shrinking replays hundreds of
# chains, minutes on 2 cores); the budget stays at about a minute.
@settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)  # fmt: skip
@given(st.lists(ops, min_size=1, max_size=16))
def test_random_sequences_keep_the_invariants(w3: Web3, world: World, steps: list) -> None:
    note(f"steps: {steps}")
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        world.reset()
        world.run(steps)
        note(f"accepted: {world.done}")
    finally:
        assert w3.provider.make_request("evm_revert", [snapshot]).get("result") is True  # type: ignore[arg-type]


class World:
    def __init__(self, w3: Web3, c: dict[str, Contract]) -> None:
        self.w3, self.c = w3, c
        self.token, self.staking, self.pay = c["HelioToken"], c["StakingRegistry"], c["Payments"]
        self.inferers = [make_inferer(w3, c, n, stake=2 * MIN_STAKE) for n in INFERERS]
        self.delegator = actor("p-dave")
        give_tokens(w3, self.token, self.delegator, 5_000 * HELIO)
        send(w3, self.delegator, self.token.functions.approve(self.staking.address, 10**30))
        for who in self.inferers:
            send(w3, who, self.token.functions.approve(self.staking.address, 10**30))
        self.slasher = actor("p-slasher")
        give_tokens(w3, self.token, self.slasher, 0)
        role = self.staking.functions.SLASHER_ROLE().call()
        as_timelock(
            w3,
            c["HelioTimelock"].address,
            self.staking.functions.grantRole(role, self.slasher.address),
        )
        self.client, self.gateway = actor("p-client"), actor("p-gateway")
        give_tokens(w3, self.token, self.client, 1_000 * HELIO)
        give_tokens(w3, self.token, self.gateway, 0)
        send(w3, self.client, self.token.functions.approve(self.pay.address, 10**30))
        self.channels = [self._open(), self._open()]
        # The local deployer is the referee; referees must be staked.
        send(
            w3, DEPLOYER, self.staking.functions.register("12D3KooWref", DEPLOYER.address, "UTC", 0)
        )
        send(w3, DEPLOYER, self.token.functions.approve(self.staking.address, MIN_STAKE))
        send(w3, DEPLOYER, self.staking.functions.stake(MIN_STAKE))
        self.holders = [*(d.address for d in DEV_ACCOUNTS), self.delegator.address, self.slasher.address, self.client.address,
                        self.gateway.address, *(w.address for w in self.inferers),
                        *(ct.address for ct in c.values())]  # fmt: skip

    def reset(self) -> None:
        """Python-side books of one example (the chain is reverted to the snapshot)."""
        self.supply0 = self.token.functions.totalSupply().call()
        self.burned = 0
        self.done: list[str] = []  # steps the chain accepted
        self.cumulative = [0, 0]
        self.trees: list[RewardTree] = []
        self.claimed: set[tuple[int, str]] = set()
        self.power_log: list[tuple[int, dict[str, int]]] = []

    def _open(self) -> int:
        receipt = send(
            self.w3,
            self.client,
            self.pay.functions.openChannel(
                self.gateway.address, 100 * HELIO, now(self.w3) + 7 * 86400
            ),
        )
        return self.pay.events.ChannelOpened().process_receipt(receipt, errors=DISCARD)[0].args["channel"]

    def run(self, steps: list[tuple[str, int, int]]) -> None:
        for op, i, n in steps:
            # Refused with a custom error is allowed (e.g. below the minimum); a panic is not.
            with contextlib.suppress(ContractCustomError):
                getattr(self, f"op_{op}")(i, n)
                self.done.append(op)
            self._log_power()
        advance(self.w3)
        self.check()

    # --- operations -------------------------------------------------------------------

    def op_stake(self, i: int, n: int) -> None:
        send(self.w3, self.inferers[i], self.staking.functions.stake(n * HELIO))

    def op_unstake(self, i: int, pct: int) -> None:
        own = self.staking.functions.stakeOf(self.inferers[i].address).call()[0]
        amount = (
            own if pct > 60 else own * pct // 100
        )  # all of it, or a part (may fall below the minimum)
        send(self.w3, self.inferers[i], self.staking.functions.requestUnstake(amount))

    def op_withdraw(self, i: int, _: int) -> None:
        send(self.w3, ([*self.inferers, self.delegator])[i], self.staking.functions.withdraw())

    def op_delegate(self, i: int, n: int) -> None:
        send(
            self.w3,
            self.delegator,
            self.staking.functions.delegateStake(self.inferers[i].address, n * HELIO),
        )

    def op_undelegate(self, i: int, pct: int) -> None:
        shares = self.staking.functions.sharesOf(
            self.delegator.address, self.inferers[i].address
        ).call()
        send(
            self.w3,
            self.delegator,
            self.staking.functions.requestUndelegate(self.inferers[i].address, shares * pct // 100),
        )

    def op_slash(self, i: int, bps: int) -> None:
        send(
            self.w3,
            self.slasher,
            self.staking.functions.slash(self.inferers[i].address, bps, self.slasher.address),
        )

    def op_burn(self, _: int, pct: int) -> None:
        amount = self.token.functions.balanceOf(self.slasher.address).call() * pct // 100
        send(self.w3, self.slasher, self.token.functions.burn(amount))
        self.burned += amount

    def op_redeem(self, k: int, n: int) -> None:
        self.cumulative[k] += n * HELIO  # may exceed the deposit: then it must be refused
        v = Voucher(
            self.client.address,
            self.gateway.address,
            self.channels[k],
            DEMO,
            self.cumulative[k],
            now(self.w3) + 3600,
        )
        try:
            send(
                self.w3,
                self.gateway,
                self.pay.functions.redeem(
                    v.as_tuple(), v.sign(self.client.private_key, Domain.of(self.pay))
                ),
            )
        except ContractCustomError:
            self.cumulative[k] -= n * HELIO
            raise

    def op_reclaim(self, k: int, _: int) -> None:
        send(self.w3, self.client, self.pay.functions.reclaim(self.channels[k]))

    def op_epoch(self, count: int, pct: int) -> None:
        pool = self.pay.functions.unallocatedPool().call()
        share = pool * pct // 100 // count
        if share == 0:
            return
        tree = RewardTree({w.address: share for w in self.inferers[:count]})
        send(self.w3, DEPLOYER, self.pay.functions.postEpochRoot(tree.root, tree.total))
        self.trees.append(tree)

    def op_claim(self, i: int, _: int) -> None:
        for epoch, tree in enumerate(self.trees):
            who = self.inferers[i].address
            if who not in tree.amounts:
                continue
            call = self.pay.functions.claim(epoch, who, tree.amounts[who], tree.proof(who))
            if (epoch, who) in self.claimed:
                with pytest.raises(ContractCustomError):  # nothing is claimable twice
                    send(self.w3, self.gateway, call)
            else:
                send(self.w3, self.gateway, call)
                self.claimed.add((epoch, who))

    def op_time(self, seconds: int, _: int) -> None:
        advance(self.w3, seconds)

    # --- invariants -------------------------------------------------------------------

    def _log_power(self) -> None:
        stakes = {}
        for w in self.inferers:
            own, pool, _ = self.staking.functions.stakeOf(w.address).call()
            stakes[w.address] = own + pool
        self.power_log.append((self.w3.eth.block_number, stakes))

    def check(self) -> None:
        f = self.token.functions
        supply = f.totalSupply().call()
        assert supply == self.supply0 - self.burned
        assert sum(f.balanceOf(h).call() for h in set(self.holders)) == supply

        accounts = [*self.inferers, self.delegator, DEPLOYER]
        bonded = sum(sum(self.staking.functions.stakeOf(a.address).call()[:2]) for a in accounts)
        unbonding = sum(self.staking.functions.unbondingOf(a.address).call()[0] for a in accounts)
        assert f.balanceOf(self.staking.address).call() == bonded + unbonding

        p = self.pay.functions
        open_deposits = 0
        for ch in self.channels:
            _, _, _, deposit, redeemed = p.channelOf(ch).call()
            assert redeemed <= deposit  # a voucher never pays more than its deposit
            open_deposits += deposit - redeemed
        epochs = sum(
            e[1] - e[2] for e in (p.epochOf(k).call() for k in range(p.epochCount().call()))
        )
        books = (
            open_deposits
            + p.unallocatedPool().call()
            + p.treasuryAccrued().call()
            + p.royaltiesOf(DEPLOYER.address).call()
            + epochs
        )
        assert f.balanceOf(self.pay.address).call() == books

        for block, stakes in self.power_log:
            for address, stake in stakes.items():
                assert self.staking.functions.getPastVotes(address, block).call() == stake
        last_block = self.power_log[-1][0]
        assert (
            self.staking.functions.getPastTotalSupply(last_block).call()
            == sum(self.power_log[-1][1].values()) + MIN_STAKE
        )
