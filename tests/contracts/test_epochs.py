"""Payments epochs on anvil: pools kept per payee, roots signed by k-of-n referees
(EIP-712 ``EpochRoot``, no stake needed), claims only after the challenge delay, vetoes
before it, and the claim rules (once each, proof checked, never above the root's total)."""

from __future__ import annotations

import pytest
from chainkit import (
    DEPLOYER,
    HELIO,
    actor,
    advance,
    as_timelock,
    events,
    fund_eth,
    give_tokens,
    now,
    revert,
    send,
)  # fmt: skip
from web3 import Web3
from web3.contract import Contract

from node.chain.devkeys import DEV_ACCOUNTS, DevAccount
from node.chain.merkle import RewardTree
from node.chain.params import ChainParams
from node.crypto.eip712 import Domain, EpochRoot, Voucher, model_key

pytestmark = pytest.mark.chain
PAY = "Payments"
DEMO = model_key("smollm2-135m-instruct")
DELAY = ChainParams().epoch_challenge_delay_s


@pytest.fixture
def pay(contracts: dict[str, Contract]) -> Contract:
    return contracts[PAY]


@pytest.fixture
def client(w3: Web3, contracts: dict[str, Contract], pay: Contract) -> DevAccount:
    who = actor("client")
    give_tokens(w3, contracts["HelioToken"], who, 1_000 * HELIO)
    send(w3, who, contracts["HelioToken"].functions.approve(pay.address, 10**30))
    return who


def earn(w3: Web3, pay: Contract, client: DevAccount, payee: DevAccount, amount: int) -> None:
    """``payee`` redeems ``amount`` from a fresh channel of ``client``: 70 % fills its pool."""
    fund_eth(w3, payee)
    receipt = send(w3, client, pay.functions.openChannel(payee.address, amount, now(w3) + 86400))
    channel = events(pay, receipt, "ChannelOpened")[0]["channel"]
    v = Voucher(client.address, payee.address, channel, DEMO, amount, now(w3) + 3600)
    send(w3, payee, pay.functions.redeem(v.as_tuple(), v.sign(client.private_key, Domain.of(pay))))


def approve(pay: Contract, payee: str, tree: RewardTree, *referees: DevAccount,
            total: int | None = None) -> list[bytes]:  # fmt: skip
    """Each referee's EpochRoot signature, in the ascending signer order the contract wants."""
    total = tree.total if total is None else total
    nonce = pay.functions.epochNonceOf(payee).call()
    root = EpochRoot(payee, tree.root, total, nonce)
    ordered = sorted(referees, key=lambda r: int(r.address, 16))
    return [root.sign(r.private_key, Domain.of(pay)) for r in ordered]


def test_epoch_root_is_posted_by_referee_signature_and_claimed_after_the_delay(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client: DevAccount
) -> None:
    """The local deployer is a referee (REFEREE_ROLE) with no stake at all: its signature
    is enough (quorum 1), anyone submits, claims open after the challenge delay."""
    token, gateway = contracts["HelioToken"], actor("gateway")
    earn(w3, pay, client, gateway, 100 * HELIO)
    assert pay.functions.poolOf(gateway.address).call() == 70 * HELIO
    assert contracts["StakingRegistry"].functions.isActive(DEPLOYER.address).call() is False
    names = ["alice", "bob", "carol"]
    tree = RewardTree({actor(n).address: (i + 1) * 10 * HELIO for i, n in enumerate(names)})
    submitter = actor("anyone")
    fund_eth(w3, submitter)
    post = pay.functions.postEpochRoot(
        gateway.address, tree.root, tree.total, approve(pay, gateway.address, tree, DEPLOYER)
    )
    receipt = send(w3, submitter, post)
    (posted,) = events(pay, receipt, "EpochRootPosted")
    opens_at = posted["opensAt"]
    assert posted == {"epoch": 0, "payee": gateway.address, "root": tree.root, "total": 60 * HELIO,
                      "opensAt": opens_at, "submitter": submitter.address}  # fmt: skip
    assert opens_at == now(w3) + DELAY
    assert pay.functions.poolOf(gateway.address).call() == 10 * HELIO
    assert pay.functions.unallocatedPool().call() == 10 * HELIO
    assert pay.functions.epochNonceOf(gateway.address).call() == 1

    bob = actor("bob")
    claim = pay.functions.claim(0, bob.address, 20 * HELIO, tree.proof(bob.address))
    assert revert(w3, submitter, claim, PAY) == ("PaymentsEpochNotOpen", (0, opens_at))
    advance(w3, DELAY)
    receipt = send(w3, submitter, claim)
    assert events(pay, receipt, "RewardClaimed") == [
        {"epoch": 0, "account": bob.address, "amount": 20 * HELIO}
    ]
    assert token.functions.balanceOf(bob.address).call() == 20 * HELIO
    assert pay.functions.isClaimed(0, bob.address).call()
    assert revert(w3, submitter, claim, PAY) == ("PaymentsAlreadyClaimed", (0, bob.address))
    alice = actor("alice")
    bad = pay.functions.claim(0, alice.address, 11 * HELIO, tree.proof(alice.address))
    assert revert(w3, submitter, bad, PAY) == (
        "PaymentsInvalidProof",
        (0, alice.address, 11 * HELIO),
    )
    assert revert(w3, submitter, pay.functions.claim(1, alice.address, 1, []), PAY) == (
        "PaymentsUnknownEpoch",
        (1,),
    )
    assert pay.functions.epochOf(0).call() == (
        tree.root,
        60 * HELIO,
        20 * HELIO,
        gateway.address,
        opens_at,
        False,
    )


def test_epoch_root_reverts(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client: DevAccount
) -> None:
    gateway, stranger = actor("gateway"), actor("stranger")
    fund_eth(w3, stranger)
    earn(w3, pay, client, gateway, 100 * HELIO)
    tree = RewardTree({actor("alice").address: 10 * HELIO})
    g = gateway.address

    def post(signatures: list[bytes], total: int = tree.total, payee: str = g):  # noqa: ANN202
        return pay.functions.postEpochRoot(payee, tree.root, total, signatures)

    assert revert(w3, stranger, post([]), PAY) == ("PaymentsEpochQuorum", (0, 1))
    assert revert(w3, stranger, post(approve(pay, g, tree, stranger)), PAY) == (
        "PaymentsNotReferee", (stranger.address,),
    )  # fmt: skip
    # A signature over another total, or for another payee, recovers to a stranger.
    wrong_total = approve(pay, g, tree, DEPLOYER, total=tree.total - 1)
    assert revert(w3, stranger, post(wrong_total), PAY)[0] == "PaymentsNotReferee"
    assert revert(w3, stranger, post([], total=0), PAY) == ("PaymentsZeroAmount", ())
    assert revert(w3, stranger, post([], total=71 * HELIO), PAY) == (
        "PaymentsEpochExceedsPool", (71 * HELIO, 70 * HELIO),
    )  # fmt: skip
    # Another payee's pool is empty: a root cannot spend a pool it was not earned into.
    assert revert(w3, stranger, post([], payee=stranger.address), PAY) == (
        "PaymentsEpochExceedsPool", (tree.total, 0),
    )  # fmt: skip
    signatures = approve(pay, g, tree, DEPLOYER)
    send(w3, stranger, post(signatures))
    # The nonce moved on: the same approval cannot spend the pool a second time.
    assert revert(w3, stranger, post(signatures), PAY)[0] == "PaymentsNotReferee"


def test_k_of_n_referees_sign_in_ascending_order(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client: DevAccount
) -> None:
    timelock = contracts["HelioTimelock"].address
    second = DevAccount(DEV_ACCOUNTS[5].address, DEV_ACCOUNTS[5].private_key)
    role = pay.functions.REFEREE_ROLE().call()
    as_timelock(w3, timelock, pay.functions.grantRole(role, second.address))
    receipt = as_timelock(w3, timelock, pay.functions.setEpochRules(2, 3600))
    assert events(pay, receipt, "EpochRulesSet") == [{"quorum": 2, "challengeDelay": 3600}]
    gateway = actor("gateway")
    earn(w3, pay, client, gateway, 100 * HELIO)
    tree = RewardTree({actor("alice").address: 7 * HELIO})
    g = gateway.address
    one = approve(pay, g, tree, DEPLOYER)
    assert revert(w3, DEPLOYER, pay.functions.postEpochRoot(g, tree.root, tree.total, one), PAY) == (
        "PaymentsEpochQuorum", (1, 2),
    )  # fmt: skip
    twice = one + one  # the same referee twice is not two referees
    assert revert(w3, DEPLOYER, pay.functions.postEpochRoot(g, tree.root, tree.total, twice), PAY)[
        0
    ] == ("PaymentsSignersNotAscending")
    both = approve(pay, g, tree, DEPLOYER, second)
    backwards = list(reversed(both))
    assert revert(
        w3, DEPLOYER, pay.functions.postEpochRoot(g, tree.root, tree.total, backwards), PAY
    )[0] == ("PaymentsSignersNotAscending")
    send(w3, DEPLOYER, pay.functions.postEpochRoot(g, tree.root, tree.total, both))
    assert (
        revert(w3, DEPLOYER, pay.functions.setEpochRules(1, 60), PAY)[0]
        == "AccessControlUnauthorizedAccount"
    )
    assert (
        revert(w3, DEPLOYER, pay.functions.setEpochRules(0, 60), PAY)[0]
        == "AccessControlUnauthorizedAccount"
    )
    with pytest.raises(Exception):  # noqa: B017 (impersonated: PaymentsInvalidEpochRules in estimation)
        as_timelock(w3, timelock, pay.functions.setEpochRules(0, 60))


def test_two_gateways_each_pay_only_their_own_inferers(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client: DevAccount
) -> None:
    """The attack: the first gateway to close an epoch used to share every gateway's 70 %
    among its own inferers. Now each root spends one payee's pool only."""
    first, second = actor("gateway-1"), actor("gateway-2")
    earn(w3, pay, client, first, 100 * HELIO)  # 70 to first's pool
    earn(w3, pay, client, second, 10 * HELIO)  # 7 to second's pool
    mine = RewardTree({actor("first-inferer").address: 77 * HELIO})  # all 77 of both pools
    sig = approve(pay, first.address, mine, DEPLOYER)
    grab = pay.functions.postEpochRoot(first.address, mine.root, mine.total, sig)
    assert revert(w3, first, grab, PAY) == ("PaymentsEpochExceedsPool", (77 * HELIO, 70 * HELIO))
    trees = {g.address: RewardTree({actor(f"{n}-inferer").address: total})
             for g, n, total in ((first, "first", 70 * HELIO), (second, "second", 7 * HELIO))}  # fmt: skip
    for payee, tree in trees.items():
        send(
            w3,
            DEPLOYER,
            pay.functions.postEpochRoot(
                payee, tree.root, tree.total, approve(pay, payee, tree, DEPLOYER)
            ),
        )
    assert (
        pay.functions.poolOf(first.address).call()
        == pay.functions.poolOf(second.address).call()
        == 0
    )
    advance(w3, DELAY)
    token = contracts["HelioToken"]
    for epoch, tree in enumerate(trees.values()):
        ((inferer, amount),) = tree.amounts.items()
        send(w3, DEPLOYER, pay.functions.claim(epoch, inferer, amount, tree.proof(inferer)))
        assert token.functions.balanceOf(inferer).call() == amount
    assert token.functions.balanceOf(actor("first-inferer").address).call() == 70 * HELIO


def test_a_referee_vetoes_a_root_before_it_opens(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client: DevAccount
) -> None:
    gateway, stranger = actor("gateway"), actor("stranger")
    fund_eth(w3, stranger)
    earn(w3, pay, client, gateway, 100 * HELIO)
    tree = RewardTree({stranger.address: 70 * HELIO})  # a referee was fooled into signing this
    g = gateway.address
    send(
        w3,
        DEPLOYER,
        pay.functions.postEpochRoot(g, tree.root, tree.total, approve(pay, g, tree, DEPLOYER)),
    )
    assert revert(w3, stranger, pay.functions.vetoEpoch(0), PAY) == (
        "PaymentsNotReferee",
        (stranger.address,),
    )
    receipt = send(w3, DEPLOYER, pay.functions.vetoEpoch(0))
    assert events(pay, receipt, "EpochVetoed") == [
        {"epoch": 0, "by": DEPLOYER.address, "amount": 70 * HELIO}
    ]
    assert pay.functions.poolOf(g).call() == 70 * HELIO  # back to the payee's inferers
    assert revert(w3, DEPLOYER, pay.functions.vetoEpoch(0), PAY) == ("PaymentsEpochVetoed", (0,))
    advance(w3, DELAY)
    claim = pay.functions.claim(0, stranger.address, 70 * HELIO, tree.proof(stranger.address))
    assert revert(w3, stranger, claim, PAY) == ("PaymentsEpochVetoed", (0,))
    # An honest root posted next opens on time and cannot be vetoed once open.
    honest = RewardTree({actor("alice").address: 70 * HELIO})
    send(
        w3,
        DEPLOYER,
        pay.functions.postEpochRoot(
            g, honest.root, honest.total, approve(pay, g, honest, DEPLOYER)
        ),
    )
    advance(w3, DELAY)
    opens_at = pay.functions.epochOf(1).call()[4]
    assert revert(w3, DEPLOYER, pay.functions.vetoEpoch(1), PAY) == (
        "PaymentsEpochChallengeOver",
        (1, opens_at),
    )


def test_a_root_whose_leaves_exceed_its_total_cannot_overpay(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client: DevAccount
) -> None:
    gateway = actor("gateway")
    earn(w3, pay, client, gateway, 100 * HELIO)
    alice, bob = actor("alice"), actor("bob")
    greedy = RewardTree({alice.address: 10 * HELIO, bob.address: 1})
    g = gateway.address
    sig = approve(pay, g, greedy, DEPLOYER, total=5 * HELIO)
    send(w3, DEPLOYER, pay.functions.postEpochRoot(g, greedy.root, 5 * HELIO, sig))
    advance(w3, DELAY)
    claim = pay.functions.claim(0, alice.address, 10 * HELIO, greedy.proof(alice.address))
    assert revert(w3, DEPLOYER, claim, PAY) == ("PaymentsEpochExceedsPool", (10 * HELIO, 5 * HELIO))


def test_epoch_root_digest_matches_python(pay: Contract) -> None:
    """node/crypto/eip712.py's EpochRoot mirrors the contract's EPOCH_ROOT_TYPEHASH."""
    approval = EpochRoot(DEPLOYER.address, b"\x07" * 32, 123, 4)
    assert pay.functions.EPOCH_ROOT_TYPEHASH().call() == approval.typehash()
    on_chain = pay.functions.hashEpochRoot(DEPLOYER.address, b"\x07" * 32, 123, 4).call()
    assert on_chain == approval.digest(Domain.of(pay))
