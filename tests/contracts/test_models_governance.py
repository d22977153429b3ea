"""ModelRegistry + HelioGovernor + HelioTimelock on anvil: the whole adoption lifecycle
through a real stake-weighted vote, the supermajority rule, rejection, deprecation by
governance, and every ModelRegistry revert."""

from __future__ import annotations

import pytest
from chainkit import (
    actor,
    advance,
    as_timelock,
    events,
    fund_eth,
    govern,
    make_inferer,
    revert,
    send,
)  # fmt: skip
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from node.chain.artifacts import load_artifact
from node.chain.devkeys import DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.crypto.eip712 import model_key

pytestmark = pytest.mark.chain
M = "ModelRegistry"
P = ChainParams()
REQS = (800, 1500, 400)
MODEL = "tiny-test-model"
KEY = model_key(MODEL)
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


@pytest.fixture
def models(contracts: dict[str, Contract]) -> Contract:
    return contracts[M]


@pytest.fixture
def creator(w3: Web3):  # noqa: ANN201
    who = actor("creator")
    fund_eth(w3, who)
    return who


def propose(w3: Web3, models: Contract, who, model_id: str = MODEL, cid: str | None = None):  # noqa: ANN001, ANN201
    cid = cid or (CID if model_id == MODEL else f"Qm{model_id}")  # one manifest per id
    return send(
        w3, who, models.functions.propose(model_id, cid, "Apache-2.0", "llama", REQS, who.address)
    )


def test_demo_model_is_adopted_at_deploy(models: Contract) -> None:
    demo = model_key("smollm2-135m-instruct")
    assert models.functions.isAdopted(demo).call()
    assert models.functions.adoptedModels().call() == [demo]
    m = models.functions.modelOf(demo).call()
    assert (m[7], m[9], m[10]) == ("smollm2-135m-instruct", "Apache-2.0", "llama")
    assert m[8].startswith("Qm")


def test_full_adoption_through_a_stake_weighted_vote(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator
) -> None:  # noqa: ANN001
    governor = contracts["HelioGovernor"]
    inferers = [make_inferer(w3, contracts, n) for n in ("alice", "bob", "carol")]
    receipt = propose(w3, models, creator)
    assert events(models, receipt, "ModelProposed") == [
        {"key": KEY, "modelId": MODEL, "creator": creator.address, "manifestCid": CID}
    ]
    assert events(
        models, send(w3, creator, models.functions.startEvaluation(KEY)), "ModelEvaluationStarted"
    ) == [{"key": KEY}]
    receipt = send(w3, inferers[0], models.functions.postBenchmark(KEY, 27_000, 1_800, 9_100))
    assert events(models, receipt, "ModelBenchmarkPosted")[0]["tokensPerSecMilli"] == 27_000
    assert models.functions.benchmarkOf(KEY, inferers[0].address).call()[:3] == (
        27_000,
        1_800,
        9_100,
    )

    receipt = send(w3, creator, models.functions.startVoting(KEY))
    (started,) = events(models, receipt, "ModelVotingStarted")
    pid = started["proposalId"]
    assert models.functions.modelOf(KEY).call()[5] == pid
    assert governor.functions.proposalProposer(pid).call() == models.address
    advance(w3, blocks=P.voting_delay_blocks + 1)
    for who in inferers:
        send(w3, who, governor.functions.castVote(pid, 1))
    assert governor.functions.proposalVotes(pid).call() == [0, 3 * 1_000 * 10**18, 0]
    advance(w3, blocks=P.voting_period_blocks)
    assert governor.functions.state(pid).call() == 4  # Succeeded

    targets, values = [models.address], [0]
    calldatas = [models.encode_abi("adopt", [KEY])]
    desc = Web3.keccak(text=models.functions.adoptionDescription(KEY).call())
    send(w3, creator, governor.functions.queue(targets, values, calldatas, desc))
    advance(w3, seconds=P.timelock_delay_s)
    receipt = send(w3, creator, governor.functions.execute(targets, values, calldatas, desc))
    assert events(models, receipt, "ModelAdopted") == [{"key": KEY, "modelId": MODEL}]
    assert models.functions.isAdopted(KEY).call()
    assert KEY in models.functions.adoptedModels().call()


def test_two_thirds_supermajority_is_required(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator
) -> None:  # noqa: ANN001
    governor = contracts["HelioGovernor"]
    alice, bob, carol = (make_inferer(w3, contracts, n) for n in ("alice", "bob", "carol"))
    propose(w3, models, creator)
    send(w3, creator, models.functions.startEvaluation(KEY))
    send(w3, alice, models.functions.postBenchmark(KEY, 1, 1, 1))
    assert revert(w3, alice, models.functions.finalizeRejected(KEY), M) == (
        "ModelWrongStatus",
        (KEY, 2),
    )
    send(w3, creator, models.functions.startVoting(KEY))
    pid = models.functions.modelOf(KEY).call()[5]
    advance(w3, blocks=2)
    send(w3, alice, governor.functions.castVote(pid, 1))
    send(w3, bob, governor.functions.castVote(pid, 1))
    send(w3, carol, governor.functions.castVote(pid, 0))  # 2/3 - a hair: 6666 bps < 6667
    assert revert(w3, creator, models.functions.finalizeRejected(KEY), M) == (
        "ModelVoteNotFinished",
        (pid, 1),
    )
    advance(w3, blocks=P.voting_period_blocks)
    assert governor.functions.state(pid).call() == 3  # Defeated
    receipt = send(w3, creator, models.functions.finalizeRejected(KEY))
    assert events(models, receipt, "ModelRejected") == [{"key": KEY}]
    assert models.functions.statusOf(KEY).call() == 5


def test_governance_rejects_and_deprecates(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator
) -> None:  # noqa: ANN001
    timelock = contracts["HelioTimelock"].address
    propose(w3, models, creator)
    assert events(
        models, as_timelock(w3, timelock, models.functions.reject(KEY)), "ModelRejected"
    ) == [{"key": KEY}]
    assert (
        revert(w3, creator, models.functions.reject(KEY), M)[0]
        == "AccessControlUnauthorizedAccount"
    )
    demo = model_key("smollm2-135m-instruct")
    propose(w3, models, creator, "second-model")
    second = model_key("second-model")
    as_timelock(w3, timelock, models.functions.adopt(second))
    receipt = as_timelock(w3, timelock, models.functions.deprecate(demo))
    assert events(models, receipt, "ModelDeprecated") == [{"key": demo}]
    assert models.functions.adoptedModels().call() == [second]
    assert models.functions.statusOf(demo).call() == 6
    for call in (models.functions.adopt(demo), models.functions.deprecate(demo)):
        assert revert(w3, creator, call, M)[0] == "AccessControlUnauthorizedAccount"
    receipt = as_timelock(w3, timelock, models.functions.setMinBenchmarks(3))
    assert events(models, receipt, "MinBenchmarksSet") == [{"oldValue": 1, "newValue": 3}]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("Bad.Id", CID, "MIT", "llama"), ("ModelInvalidId", ("Bad.Id",))),
        (("-lead", CID, "MIT", "llama"), ("ModelInvalidId", ("-lead",))),
        (("dou--ble", CID, "MIT", "llama"), ("ModelInvalidId", ("dou--ble",))),
        (("a" * 65, CID, "MIT", "llama"), ("ModelInvalidId", ("a" * 65,))),
        (("ok", "", "MIT", "llama"), ("ModelInvalidCid", (0,))),
        (("ok", CID, "", "llama"), ("ModelInvalidText", (0,))),
        (("ok", CID, "MIT", "f" * 65), ("ModelInvalidText", (65,))),
    ],
)
def test_propose_rejects_bad_input(
    w3: Web3, models: Contract, creator, args: tuple, error: tuple
) -> None:  # noqa: ANN001
    assert revert(w3, creator, models.functions.propose(*args, REQS, creator.address), M) == error


def test_lifecycle_reverts(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator
) -> None:  # noqa: ANN001
    zero = "0x" + "00" * 20
    assert revert(w3, creator, models.functions.propose(MODEL, CID, "MIT", "x", REQS, zero), M) == (
        "ModelInvalidRoyaltyRecipient",
        (),
    )
    propose(w3, models, creator)
    assert revert(
        w3, creator, models.functions.propose(MODEL, CID, "MIT", "x", REQS, creator.address), M
    ) == ("ModelAlreadyProposed", (KEY,))
    unknown = model_key("nope")
    assert revert(w3, creator, models.functions.startEvaluation(unknown), M) == (
        "ModelUnknown",
        (unknown,),
    )
    stranger = actor("stranger")
    fund_eth(w3, stranger)
    assert revert(w3, stranger, models.functions.startEvaluation(KEY), M) == (
        "ModelNotCreator",
        (KEY, stranger.address),
    )
    assert revert(w3, stranger, models.functions.postBenchmark(KEY, 1, 1, 1), M) == (
        "ModelWrongStatus",
        (KEY, 1),
    )
    send(w3, creator, models.functions.startEvaluation(KEY))
    assert revert(w3, creator, models.functions.startEvaluation(KEY), M) == (
        "ModelWrongStatus",
        (KEY, 2),
    )
    assert revert(w3, stranger, models.functions.postBenchmark(KEY, 1, 1, 1), M) == (
        "ModelNotActiveInferer",
        (stranger.address,),
    )
    alice = make_inferer(w3, contracts, "alice")
    assert revert(w3, alice, models.functions.postBenchmark(KEY, 1, 1, 10_001), M) == (
        "ModelInvalidBenchmark",
        (10_001,),
    )
    assert revert(w3, creator, models.functions.startVoting(KEY), M) == (
        "ModelNotEnoughBenchmarks",
        (0, 1),
    )
    send(w3, alice, models.functions.postBenchmark(KEY, 1, 1, 1))
    assert revert(w3, alice, models.functions.postBenchmark(KEY, 1, 1, 1), M) == (
        "ModelBenchmarkAlreadyPosted",
        (KEY, alice.address),
    )
    demo = model_key("smollm2-135m-instruct")
    timelock = contracts["HelioTimelock"].address
    with pytest.raises(Exception):  # noqa: B017 (impersonated: ModelWrongStatus in estimation)
        as_timelock(w3, timelock, models.functions.adopt(demo))


def test_governor_settings_and_supermajority(w3: Web3, contracts: dict[str, Contract]) -> None:
    governor = contracts["HelioGovernor"]
    assert governor.functions.supermajorityBps().call() == P.supermajority_bps
    assert governor.functions.votingDelay().call() == P.voting_delay_blocks
    assert governor.functions.votingPeriod().call() == P.voting_period_blocks
    assert governor.functions.timelock().call() == contracts["HelioTimelock"].address
    assert governor.functions.token().call() == contracts["StakingRegistry"].address
    assert governor.functions.CLOCK_MODE().call() == "mode=blocknumber&from=default"
    name, _ = revert(
        w3, DEV_ACCOUNTS[0], governor.functions.setSupermajority(7_000), "HelioGovernor"
    )
    assert name == "GovernorOnlyExecutor"
    alice = make_inferer(w3, contracts, "alice")
    receipt = govern(
        w3, contracts, [alice], governor, "setSupermajority", [7_500], "3/4 from now on"
    )
    assert events(governor, receipt, "SupermajoritySet") == [
        {"oldBps": P.supermajority_bps, "newBps": 7_500}
    ]
    assert governor.functions.supermajorityBps().call() == 7_500
    # An invalid value makes the executed proposal revert with the Governor's custom error.
    with pytest.raises(ContractCustomError) as excinfo:
        govern(w3, contracts, [alice], governor, "setSupermajority", [5_000], "a bare majority")
    assert load_artifact("HelioGovernor").decode_error(str(excinfo.value.data)) == (
        "GovernorInvalidSupermajority",
        (5_000,),
    )


def test_timelock_roles_are_wired(contracts: dict[str, Contract]) -> None:
    timelock, governor = contracts["HelioTimelock"], contracts["HelioGovernor"]
    for role in ("PROPOSER_ROLE", "CANCELLER_ROLE"):
        assert timelock.functions.hasRole(
            getattr(timelock.functions, role)().call(), governor.address
        ).call()
    executor = timelock.functions.EXECUTOR_ROLE().call()
    assert timelock.functions.hasRole(executor, "0x" + "00" * 20).call()  # anyone executes
    admin = timelock.functions.DEFAULT_ADMIN_ROLE().call()
    assert not timelock.functions.hasRole(admin, DEV_ACCOUNTS[0].address).call()
    for name in ("StakingRegistry", "ModelRegistry", "Payments", "Verification"):
        c = contracts[name]
        assert c.functions.hasRole(admin, timelock.address).call()
        assert not c.functions.hasRole(admin, DEV_ACCOUNTS[0].address).call()
