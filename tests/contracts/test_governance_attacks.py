"""Governance attacks on anvil, each tried as an attacker would: a 10 % holder racing the
stakers' unbonding, proposing without voting power, the guardian's veto and its removal,
front-running a model's vote, squatting a model id or a manifest, and royalties for a
model nobody adopted."""

from __future__ import annotations

import pytest
from chainkit import (
    DEPLOYER,
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

from node.chain.params import ChainParams
from node.chain.profiles import PROFILES
from node.crypto.eip712 import Domain, Voucher, model_key

pytestmark = pytest.mark.chain
P = ChainParams()
GOV, MR = "HelioGovernor", "ModelRegistry"
PENDING, ACTIVE, CANCELED, SUCCEEDED, QUEUED, EXECUTED = 0, 1, 2, 4, 5, 7
REQS = (800, 1500, 400)


def _proposal(target: Contract, fn: str, args: list, description: str):  # noqa: ANN202
    targets, values, calldatas = [target.address], [0], [target.encode_abi(fn, args)]
    return targets, values, calldatas, description


def _file_and_pass(w3: Web3, governor: Contract, proposer, voters, proposal) -> int:  # noqa: ANN001
    targets, values, calldatas, description = proposal
    advance(w3)  # the threshold reads the proposer's votes of an earlier block
    receipt = send(
        w3, proposer, governor.functions.propose(targets, values, calldatas, description)
    )
    pid = events(governor, receipt, "ProposalCreated")[0]["proposalId"]
    advance(w3, blocks=P.voting_delay_blocks + 1)
    for v in voters:
        send(w3, v, governor.functions.castVote(pid, 1))
    advance(w3, blocks=P.voting_period_blocks)
    assert governor.functions.state(pid).call() == SUCCEEDED
    send(
        w3,
        proposer,
        governor.functions.queue(targets, values, calldatas, Web3.keccak(text=description)),
    )
    return pid


def test_every_profile_keeps_the_timelock_longer_than_unbonding() -> None:
    for name, profile in PROFILES.items():
        params = profile.chain_params()
        assert params.timelock_delay_s > params.unbonding_delay_s, name
        assert params.proposal_threshold > 0, name
    testnet = PROFILES["testnet"].chain_params()
    assert testnet.voting_period_blocks * 12 >= 2 * 24 * 3600  # days of voting off the demo chain


def test_a_ten_percent_holder_cannot_pass_anything_before_stakers_can_unbond(
    w3: Web3, contracts: dict[str, Contract]
) -> None:
    """The attack: buy 10 % of the voting power, grant yourself SLASHER_ROLE while the
    others do not vote. It still passes the vote, but the Timelock holds it longer than
    unbonding takes: a staker who starts leaving when it is queued is out first, and the
    guardian vetoes it meanwhile."""
    governor, staking, token = contracts[GOV], contracts["StakingRegistry"], contracts["HelioToken"]
    stakers = [
        make_inferer(w3, contracts, n, stake=3 * MIN_STAKE) for n in ("alice", "bob", "carol")
    ]
    attacker = make_inferer(w3, contracts, "attacker", stake=MIN_STAKE)  # 1 000 of 10 000
    slasher = staking.functions.SLASHER_ROLE().call()
    grab = _proposal(staking, "grantRole", [slasher, attacker.address], "routine maintenance")
    pid = _file_and_pass(w3, governor, attacker, [attacker], grab)
    assert governor.functions.state(pid).call() == QUEUED
    targets, values, calldatas, description = grab
    execute = governor.functions.execute(targets, values, calldatas, Web3.keccak(text=description))

    alice = stakers[0]
    send(
        w3, alice, staking.functions.requestUnstake(3 * MIN_STAKE)
    )  # she sees it queued and leaves
    assert revert(w3, attacker, execute, "HelioTimelock")[0] == "TimelockUnexpectedOperationState"
    advance(w3, P.unbonding_delay_s)
    before = token.functions.balanceOf(alice.address).call()
    send(w3, alice, staking.functions.withdraw())  # her stake is out before the grab can run
    assert token.functions.balanceOf(alice.address).call() == before + 3 * MIN_STAKE
    assert revert(w3, attacker, execute, "HelioTimelock")[0] == "TimelockUnexpectedOperationState"
    assert not staking.functions.hasRole(slasher, attacker.address).call()

    # Meanwhile the guardian (the deployer by default) vetoes it in the Timelock.
    assert governor.functions.proposalGuardian().call() == DEPLOYER.address
    receipt = send(
        w3,
        DEPLOYER,
        governor.functions.cancel(targets, values, calldatas, Web3.keccak(text=description)),
    )
    assert events(governor, receipt, "ProposalCanceled") == [{"proposalId": pid}]
    assert governor.functions.state(pid).call() == CANCELED
    advance(w3, P.timelock_delay_s)
    with pytest.raises(Exception):  # noqa: B017 (GovernorUnexpectedProposalState in estimation)
        send(w3, attacker, execute)
    assert not staking.functions.hasRole(slasher, attacker.address).call()


def test_proposing_needs_voting_power(w3: Web3, contracts: dict[str, Contract]) -> None:
    governor = contracts[GOV]
    holder = actor("token-holder")  # tokens but no stake: no voting power
    give_tokens(w3, contracts["HelioToken"], holder, 50_000 * HELIO)
    targets, values, calldatas, description = _proposal(
        governor, "setSupermajority", [5_100], "a bare majority"
    )
    assert governor.functions.proposalThreshold().call() == P.proposal_threshold > 0
    assert revert(w3, holder, governor.functions.propose(targets, values, calldatas, description), GOV) == (
        "GovernorInsufficientProposerVotes", (holder.address, 0, P.proposal_threshold),
    )  # fmt: skip


def test_governance_replaces_the_guardian_and_the_guardian_cannot_veto_that(
    w3: Web3, contracts: dict[str, Contract]
) -> None:
    governor = contracts[GOV]
    voters = [make_inferer(w3, contracts, n) for n in ("alice", "bob")]
    successor = actor("new-guardian")
    fund_eth(w3, successor)
    removal = _proposal(governor, "setProposalGuardian", [successor.address], "a new guardian")
    pid = _file_and_pass(w3, governor, voters[0], voters, removal)
    targets, values, calldatas, description = removal
    desc = Web3.keccak(text=description)
    assert revert(w3, DEPLOYER, governor.functions.cancel(targets, values, calldatas, desc), GOV) == (
        "GovernorGuardianCannotVetoReplacement", (),
    )  # fmt: skip
    advance(w3, P.timelock_delay_s)
    send(w3, voters[0], governor.functions.execute(targets, values, calldatas, desc))
    assert governor.functions.state(pid).call() == EXECUTED
    assert governor.functions.proposalGuardian().call() == successor.address
    # The old guardian lost its veto; the new one has it.
    other = _proposal(governor, "setSupermajority", [7_000], "three sevenths more")
    _file_and_pass(w3, governor, voters[0], voters, other)
    targets, values, calldatas, description = other
    cancel = governor.functions.cancel(targets, values, calldatas, Web3.keccak(text=description))
    assert revert(w3, DEPLOYER, cancel, GOV)[0] == "GovernorUnableToCancel"
    send(w3, successor, cancel)


def test_only_the_deployer_wires_the_model_registry_once(
    w3: Web3, contracts: dict[str, Contract]
) -> None:
    governor = contracts[GOV]
    assert governor.functions.modelRegistry().call() == contracts[MR].address
    stranger = actor("stranger")
    fund_eth(w3, stranger)
    for who in (stranger, DEPLOYER):  # set once at deploy: from then on only a vote
        assert (
            revert(w3, who, governor.functions.setModelRegistry(stranger.address), GOV)[0]
            == "GovernorOnlyExecutor"
        )


# --- ModelRegistry ---------------------------------------------------------------------


@pytest.fixture
def creator(w3: Web3):  # noqa: ANN201
    who = actor("creator")
    fund_eth(w3, who)
    return who


def _to_vote(
    w3: Web3, contracts: dict[str, Contract], creator, model_id: str, cid: str, benchmarker
):  # noqa: ANN001, ANN202
    models = contracts[MR]
    key = model_key(model_id)
    send(
        w3, creator, models.functions.propose(model_id, cid, "MIT", "llama", REQS, creator.address)
    )
    send(w3, creator, models.functions.startEvaluation(key))
    send(w3, benchmarker, models.functions.postBenchmark(key, 27_000, 1_200, 9_000, 1_024))
    return key


def test_front_running_start_voting_cannot_block_the_vote(
    w3: Web3, contracts: dict[str, Contract], creator
) -> None:  # noqa: ANN001
    """The attack: file the registry's exact proposal first and cancel it while pending,
    so the registry's own `propose` reverts and the model sits in Evaluating forever."""
    models, governor = contracts[MR], contracts[GOV]
    attacker = make_inferer(w3, contracts, "attacker")  # enough power to propose
    key = _to_vote(w3, contracts, creator, "front-run-me", "QmFrontRun", attacker)
    adopt = [models.encode_abi("adopt", [key])]
    registry = models.address.lower()
    advance(w3)
    for guess in (f"Adopt model front-run-me (vote 1)#proposer={registry}",):
        call = governor.functions.propose([models.address], [0], adopt, guess)
        assert revert(w3, attacker, call, GOV) == (
            "GovernorRestrictedProposer",
            (attacker.address,),
        )
    # Without the suffix the attacker files some other proposal, which blocks nothing.
    receipt = send(
        w3,
        attacker,
        governor.functions.propose(
            [models.address], [0], adopt, "Adopt model front-run-me (vote 1)"
        ),
    )
    decoy = events(governor, receipt, "ProposalCreated")[0]["proposalId"]
    send(
        w3,
        attacker,
        governor.functions.cancel(
            [models.address], [0], adopt, Web3.keccak(text="Adopt model front-run-me (vote 1)")
        ),
    )
    receipt = send(w3, creator, models.functions.startVoting(key))
    pid = events(models, receipt, "ModelVotingStarted")[0]["proposalId"]
    assert pid != decoy and governor.functions.state(pid).call() == PENDING
    assert models.functions.statusOf(key).call() == 3  # Voting
    assert (
        models.functions.adoptionDescription(key).call()
        == f"Adopt model front-run-me (vote 1)#proposer={registry}"
    )
    assert governor.functions.proposalProposer(pid).call() == models.address
    advance(w3, blocks=P.voting_delay_blocks + 1)
    assert governor.functions.state(pid).call() == ACTIVE  # the model's vote opened


def test_governance_releases_a_squatted_id_for_a_fresh_vote(
    w3: Web3, contracts: dict[str, Contract], creator
) -> None:  # noqa: ANN001
    models, governor = contracts[MR], contracts[GOV]
    timelock = contracts["HelioTimelock"].address
    inferer = make_inferer(w3, contracts, "alice")
    squatter = actor("squatter")
    fund_eth(w3, squatter)
    key = _to_vote(w3, contracts, squatter, "famous-model", "QmJunk", inferer)
    assert (
        revert(w3, squatter, models.functions.releaseId(key), MR)[0]
        == "AccessControlUnauthorizedAccount"
    )
    receipt = as_timelock(w3, timelock, models.functions.releaseId(key))
    assert events(models, receipt, "ModelIdReleased") == [{"key": key}]
    assert models.functions.statusOf(key).call() == 0
    assert models.functions.benchmarkOf(key, inferer.address).call()[3] == 0  # a new round
    # The real creator proposes it, the same inferer benchmarks it again, the vote opens
    # with a fresh description (so it never collides with a dead proposal).
    _to_vote(w3, contracts, creator, "famous-model", "QmRealWeights", inferer)
    pid = events(
        models, send(w3, creator, models.functions.startVoting(key)), "ModelVotingStarted"
    )[0]["proposalId"]
    assert governor.functions.proposalProposer(pid).call() == models.address
    assert models.functions.modelOf(key).call()[0] == creator.address
    with pytest.raises(Exception):  # noqa: B017 (impersonated: ModelWrongStatus(Voting) in estimation)
        as_timelock(w3, timelock, models.functions.releaseId(key))
    demo = model_key("smollm2-135m-instruct")
    with pytest.raises(Exception):  # noqa: B017 (ModelWrongStatus(Adopted): deprecate first)
        as_timelock(w3, timelock, models.functions.releaseId(demo))


def test_the_same_manifest_under_a_new_id_is_refused(
    w3: Web3, contracts: dict[str, Contract], creator
) -> None:  # noqa: ANN001
    models = contracts[MR]
    send(
        w3,
        creator,
        models.functions.propose(
            "original-model", "QmSameWeights", "MIT", "llama", REQS, creator.address
        ),
    )
    copycat = actor("copycat")
    fund_eth(w3, copycat)
    call = models.functions.propose(
        "copied-model", "QmSameWeights", "MIT", "llama", REQS, copycat.address
    )
    assert revert(w3, copycat, call, MR) == (
        "ModelDuplicateManifest", (model_key("original-model"), "original-model"),
    )  # fmt: skip
    assert models.functions.keyOfManifest("QmSameWeights").call() == model_key("original-model")


def test_royalties_only_for_adopted_or_deprecated_models(
    w3: Web3, contracts: dict[str, Contract], creator
) -> None:  # noqa: ANN001
    models, pay = contracts[MR], contracts["Payments"]
    timelock = contracts["HelioTimelock"].address
    key = model_key("never-adopted")
    send(
        w3,
        creator,
        models.functions.propose("never-adopted", "QmNever", "MIT", "llama", REQS, creator.address),
    )
    assert models.functions.royaltyRecipientOf(key).call() == "0x" + "00" * 20
    client, gateway = actor("client"), actor("gateway")
    give_tokens(w3, contracts["HelioToken"], client, 100 * HELIO)
    fund_eth(w3, gateway)
    send(w3, client, contracts["HelioToken"].functions.approve(pay.address, 10**30))
    receipt = send(
        w3, client, pay.functions.openChannel(gateway.address, 10 * HELIO, now(w3) + 86400)
    )
    channel = events(pay, receipt, "ChannelOpened")[0]["channel"]

    def redeem(amount: int):  # noqa: ANN202
        v = Voucher(client.address, gateway.address, channel, key, amount, now(w3) + 3600)
        return pay.functions.redeem(v.as_tuple(), v.sign(client.private_key, Domain.of(pay)))

    assert revert(w3, gateway, redeem(HELIO), "Payments") == ("PaymentsUnknownModel", (key,))
    as_timelock(w3, timelock, models.functions.adopt(key))
    send(w3, gateway, redeem(HELIO))
    assert pay.functions.royaltiesOf(creator.address).call() == HELIO * 2 // 10
    as_timelock(w3, timelock, models.functions.deprecate(key))
    send(w3, gateway, redeem(2 * HELIO))  # served before deprecation: still paid
    assert pay.functions.royaltiesOf(creator.address).call() == 2 * HELIO * 2 // 10
