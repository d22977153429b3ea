"""Property tests (hypothesis stateful) of Verification + StakingRegistry on anvil: random
sequences of fraud claims (several sessions of one accused), confirmations, disputes,
committee votes, executions, resolutions, expiries, delegations into and out of the
accused's pool, and time. Every sequence starts from the same EVM snapshot. After EVERY
step:

- tokens are conserved: the supply falls by exactly the burned part of each slash, the
  registry holds exactly every inferer's slashable stake, and Verification keeps nothing
  (each slash is split and paid out in the same transaction);
- an inferer is frozen exactly while a claim against it is open or disputed, or a
  disputed claim names it as an accuser;
- a slashed inferer (accused or losing accuser) is jailed and not active.
A refused step must be refused with a custom error (never a panic).

Tiers: the normal suite runs a short pass (3 sequences of up to 10 steps);
``HELIO_PROPERTY_EXAMPLES=256`` (or more) runs 256+ sequences of up to 40 steps.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from chainkit import HELIO, actor, advance, give_tokens, send
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from verifykit import V, evidence, make_world
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.chain.params import ChainParams

pytestmark = pytest.mark.chain
P = ChainParams()
EXAMPLES = int(os.environ.get("HELIO_PROPERTY_EXAMPLES", "3"))
LONG = EXAMPLES >= 256
STEPS = 40 if LONG else 10
REFS = ("ref1", "ref2", "ref3", "ref4", "ref5")
OPEN, DISPUTED, SLASHED, REJECTED = 0, 1, 2, 3


class World:
    def __init__(self, w3: Web3, c: dict[str, Contract]) -> None:
        self.w3, self.c = w3, c
        self.token, self.staking, self.ver = c["HelioToken"], c["StakingRegistry"], c[V]
        self.people = make_world(w3, c, verifiers=len(REFS))
        self.dave = actor("v-delegator")
        give_tokens(w3, self.token, self.dave, 10_000 * HELIO)
        send(w3, self.dave, self.token.functions.approve(self.staking.address, 10**30))
        self.stakers = [p.address for p in self.people.values()]
        self.stats: Counter[str] = Counter()


class Claims(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        self.w3, self.v, self.s = w.w3, w.ver.functions, w.staking.functions
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        self.supply = w.token.functions.totalSupply().call()  # Python books
        self.claims: list[int] = []
        self.slashed: set[str] = set()

    def teardown(self) -> None:
        assert self.w3.provider.make_request("evm_revert", [self.snapshot]).get("result") is True  # type: ignore[arg-type]

    def _try(self, op: str, call: Any, who: Any) -> Any:
        self.world.stats[f"{op} tried"] += 1
        try:
            receipt = send(self.w3, who, call)
        except ContractCustomError:
            return None
        self.world.stats["accepted"] += 1
        self.world.stats[op] += 1
        return receipt

    def _claim_id(self, k: int) -> int:
        return self.claims[k % len(self.claims)] if self.claims else 0

    def _book(self, receipt: Any) -> None:
        """Burns and slashed parties of a receipt (the accused's, or the accusers')."""
        for e in self.world.ver.events.FraudSlashed().process_receipt(receipt, errors=DISCARD):
            self.supply -= e.args["burned"]
            self.slashed.add(e.args["accused"])
        for e in self.world.ver.events.AccusersSlashed().process_receipt(receipt, errors=DISCARD):
            self.supply -= e.args["amount"] * P.slash_burn_bps // 10_000
            self.slashed.update(self.v.accusersOf(e.args["claimId"]).call())

    @initialize()
    def first_claim(self) -> None:
        """Every sequence starts with a claim, so its steps have something to act on."""
        self.claim(0, 0)

    @rule(session=st.integers(0, 3), ref=st.integers(0, 1))
    def claim(self, session: int, ref: int) -> None:
        w = self.world
        accused, others = evidence(w.ver, w.people, session=bytes([session + 1]) * 32)
        call = self.v.submitFraudClaim(w.people["alice"].address, accused, others)
        receipt = self._try("submitFraudClaim", call, w.people[REFS[ref]])
        if receipt:
            ev = w.ver.events.FraudClaimSubmitted().process_receipt(receipt, errors=DISCARD)[0]
            self.claims.append(ev.args["claimId"])

    @rule(k=st.integers(0, 5), ref=st.integers(0, 4), guilty=st.booleans())
    def vote(self, k: int, ref: int, guilty: bool) -> None:
        call = (
            self.v.confirmClaim(self._claim_id(k))
            if guilty
            else self.v.rejectClaim(self._claim_id(k))
        )
        self._try("confirmClaim" if guilty else "rejectClaim", call, self.world.people[REFS[ref]])

    @rule(k=st.integers(0, 5))
    def dispute(self, k: int) -> None:
        self._try("dispute", self.v.dispute(self._claim_id(k)), self.world.people["alice"])

    @rule(
        k=st.integers(0, 5), op=st.sampled_from(["executeSlash", "resolveDispute", "expireClaim"])
    )
    def close(self, k: int, op: str) -> None:
        receipt = self._try(op, getattr(self.v, op)(self._claim_id(k)), self.world.people["bob"])
        if receipt:
            self._book(receipt)

    @rule(n=st.sampled_from([1, 500 * HELIO]), out=st.booleans())
    def delegation(self, n: int, out: bool) -> None:
        w, alice = self.world, self.world.people["alice"].address
        if out:
            shares = self.s.sharesOf(w.dave.address, alice).call()
            self._try("requestUndelegate", self.s.requestUndelegate(alice, shares), w.dave)
        else:
            self._try("delegateStake", self.s.delegateStake(alice, n), w.dave)

    @rule(seconds=st.sampled_from([60, P.challenge_window_s, P.dispute_window_s, P.claim_ttl_s]))
    def time_passes(self, seconds: int) -> None:
        advance(self.w3, seconds)

    @invariant()
    def books_balance(self) -> None:
        w = self.world
        f = w.token.functions
        assert f.totalSupply().call() == self.supply
        assert f.balanceOf(w.ver.address).call() == 0
        slashable = sum(self.s.slashableOf(a).call() for a in w.stakers)
        assert f.balanceOf(w.staking.address).call() == slashable
        holds: Counter[str] = Counter()
        for cid in self.claims:
            c = self.v.claimOf(cid).call()
            if c[4] in (OPEN, DISPUTED):
                holds[c[0]] += 1
            if c[4] == DISPUTED:
                holds.update(self.v.accusersOf(cid).call())
        for a in w.stakers:
            assert self.s.isFrozen(a).call() == (holds[a] > 0), a
        for a in self.slashed:
            assert self.s.isJailed(a).call() and not self.s.isActive(a).call()


def test_random_claim_sequences_keep_the_books(w3: Web3, contracts: dict[str, Contract]) -> None:
    Claims.world = World(w3, contracts)
    run_state_machine_as_test(Claims, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate],
    ))  # fmt: skip
    stats = Claims.world.stats
    tried = sum(n for op, n in stats.items() if op.endswith(" tried"))
    print(f"verification property run: {EXAMPLES} sequences, {tried} calls; {dict(stats)}")
    assert tried > 0
    if LONG:  # the long tier reaches every kind of success at least once
        for op in ("submitFraudClaim", "confirmClaim", "rejectClaim", "dispute", "executeSlash",
                   "resolveDispute", "expireClaim"):  # fmt: skip
            assert stats[op] > 0, f"no {op} was ever accepted: {dict(stats)}"


def test_fixed_claim_sequence_keeps_the_books(w3: Web3, contracts: dict[str, Contract]) -> None:
    """The sequence the short pass always covers: a slash by execution with a delegator in
    the pool, a lost dispute (accusers slashed), an expiry; the books after every step."""
    world = World(w3, contracts)
    m = type("Fixed", (Claims,), {"world": world})()
    steps: list[tuple[str, tuple[Any, ...]]] = [
        ("delegation", (500 * HELIO, False)), ("claim", (0, 0)), ("claim", (1, 0)),
        ("claim", (2, 1)), ("vote", (0, 1, True)), ("dispute", (1,)), ("vote", (1, 2, False)),
        ("time_passes", (P.challenge_window_s,)), ("close", (0, "executeSlash")),
        ("time_passes", (P.dispute_window_s,)), ("close", (1, "resolveDispute")),
        ("time_passes", (P.claim_ttl_s,)), ("close", (2, "expireClaim")),
        ("delegation", (1, True)),
    ]  # fmt: skip
    try:
        for name, args in steps:
            getattr(m, name)(*args)
            m.books_balance()
        for op in ("executeSlash", "resolveDispute", "expireClaim", "requestUndelegate"):
            assert world.stats[op] == 1, (op, dict(world.stats))
    finally:
        m.teardown()
