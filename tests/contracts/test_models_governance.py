"""ModelRegistry + HelioGovernor + HelioTimelock on anvil: the whole adoption lifecycle
through a real stake-weighted vote, the supermajority rule, rejection, deprecation by
governance, the evaluation rule (a proposal no fleet of benchmarked inferers can serve is
rejected with its reason), and every ModelRegistry revert."""

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
REQS = (800, 1500, 400)  # MB, mJ/token, ms/token
GOOD = (27_000, 1_200, 9_000, 1_024)  # 27 tokens/s (37 ms), 1200 mJ, 90 %, 1 GB: within REQS
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
    receipt = send(w3, inferers[0], models.functions.postBenchmark(KEY, 27_000, 1_200, 9_100, 1_024))
    assert events(models, receipt, "ModelBenchmarkPosted")[0]["tokensPerSecMilli"] == 27_000
    assert models.functions.benchmarkOf(KEY, inferers[0].address).call()[:3] == (
        27_000,
        1_200,
        9_100,
    )
    assert models.functions.benchmarkOf(KEY, inferers[0].address).call()[4] == 1_024

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
    send(w3, alice, models.functions.postBenchmark(KEY, *GOOD))
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
    assert revert(w3, stranger, models.functions.postBenchmark(KEY, *GOOD), M) == (
        "ModelWrongStatus",
        (KEY, 1),
    )
    send(w3, creator, models.functions.startEvaluation(KEY))
    assert revert(w3, creator, models.functions.startEvaluation(KEY), M) == (
        "ModelWrongStatus",
        (KEY, 2),
    )
    assert revert(w3, stranger, models.functions.postBenchmark(KEY, *GOOD), M) == (
        "ModelNotActiveInferer",
        (stranger.address,),
    )
    alice = make_inferer(w3, contracts, "alice")
    assert revert(w3, alice, models.functions.postBenchmark(KEY, 1, 1, 10_001, 1), M) == (
        "ModelInvalidBenchmark",
        (10_001,),
    )
    assert revert(w3, creator, models.functions.startVoting(KEY), M) == (
        "ModelNotEnoughBenchmarks",
        (0, 1),
    )
    send(w3, alice, models.functions.postBenchmark(KEY, *GOOD))
    assert revert(w3, alice, models.functions.postBenchmark(KEY, *GOOD), M) == (
        "ModelBenchmarkAlreadyPosted",
        (KEY, alice.address),
    )
    demo = model_key("smollm2-135m-instruct")
    timelock = contracts["HelioTimelock"].address
    with pytest.raises(Exception):  # noqa: B017 (impersonated: ModelWrongStatus in estimation)
        as_timelock(w3, timelock, models.functions.adopt(demo))


# EvaluationFailure: None, TooFewBenchmarks, Energy, Latency, EnergyAndLatency, Memory
@pytest.mark.parametrize(
    ("benchmarks", "verdict"),
    [
        ([], (1, 0, 1)),  # nobody benchmarked it in the period
        ([(27_000, 2_000, 9_000, 1_024)], (2, 2_000, 1_500)),  # 2000 mJ/token > 1500
        ([(2_000, 1_200, 9_000, 1_024)], (3, 500, 400)),  # 2 tokens/s = 500 ms/token > 400
        ([(27_000, 2_000, 9_000, 1_024), (2_000, 1_200, 9_000, 1_024)], (4, 0, 1)),
        ([(27_000, 1_200, 9_000, 300), (27_000, 1_200, 9_000, 400), (2_000, 1_200, 9_000, 4_096)],
         (5, 700, 800)),  # the slow inferer's 4 GB do not count  # fmt: skip
    ],
    ids=["too-few-benchmarks", "energy", "latency", "energy-and-latency", "memory"],
)
def test_closeEvaluation_rejectsWithTheReason_whenNoFleetMeetsTheRequirements(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator,
    benchmarks: list[tuple[int, ...]], verdict: tuple[int, int, int],
) -> None:  # noqa: ANN001
    propose(w3, models, creator)
    send(w3, creator, models.functions.startEvaluation(KEY))
    opened = models.functions.evaluationOf(KEY).call()[0]
    for name, bench in zip(("alice", "bob", "carol"), benchmarks, strict=False):
        send(w3, make_inferer(w3, contracts, name), models.functions.postBenchmark(KEY, *bench))
    assert tuple(models.functions.evaluationVerdict(KEY).call()) == verdict
    expected = ("ModelRequirementsNotMet", (KEY, *verdict)) if benchmarks else \
        ("ModelNotEnoughBenchmarks", (0, 1))
    assert revert(w3, creator, models.functions.startVoting(KEY), M) == expected
    stranger = actor("stranger")
    fund_eth(w3, stranger)
    closes_at = opened + P.evaluation_period_s
    assert revert(w3, stranger, models.functions.closeEvaluation(KEY), M) == (
        "ModelEvaluationStillOpen", (KEY, closes_at))  # fmt: skip

    advance(w3, seconds=P.evaluation_period_s)
    receipt = send(w3, stranger, models.functions.closeEvaluation(KEY))
    reason, have, need = verdict
    assert events(models, receipt, "ModelEvaluationFailed") == [
        {"key": KEY, "reason": reason, "have": have, "need": need}]  # fmt: skip
    assert events(models, receipt, "ModelRejected") == [{"key": KEY}]
    assert models.functions.statusOf(KEY).call() == 5  # Rejected
    assert tuple(models.functions.evaluationOf(KEY).call()[7:]) == (reason, have, need)
    assert tuple(models.functions.evaluationVerdict(KEY).call()) == verdict
    assert revert(w3, stranger, models.functions.closeEvaluation(KEY), M) == (
        "ModelWrongStatus", (KEY, 5))  # fmt: skip


def test_closeEvaluation_opensTheVote_whenAShardedFleetMeetsTheRequirements(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator
) -> None:  # noqa: ANN001
    """Two inferers offering 500 and 400 MB host an 800 MB model together (sharded)."""
    propose(w3, models, creator)
    send(w3, creator, models.functions.startEvaluation(KEY))
    alice, bob = (make_inferer(w3, contracts, n) for n in ("alice", "bob"))
    receipt = send(w3, alice, models.functions.postBenchmark(KEY, 27_000, 1_200, 9_000, 500))
    assert events(models, receipt, "ModelBenchmarkPosted") == [{
        "key": KEY, "inferer": alice.address, "tokensPerSecMilli": 27_000,
        "milliJoulePerToken": 1_200, "accuracyBps": 9_000, "memoryMb": 500, "qualified": True}]  # fmt: skip
    assert tuple(models.functions.evaluationVerdict(KEY).call()) == (5, 500, 800)
    send(w3, bob, models.functions.postBenchmark(KEY, 2_500, 1_500, 9_000, 400))  # 400 ms: on the bound
    evaluation = models.functions.evaluationOf(KEY).call()
    assert tuple(evaluation[1:7]) == (2, 900, 1_200, 27_000, True, True)
    assert tuple(models.functions.evaluationVerdict(KEY).call()) == (0, 0, 0)
    advance(w3, seconds=P.evaluation_period_s)
    stranger = actor("stranger")
    fund_eth(w3, stranger)
    receipt = send(w3, stranger, models.functions.closeEvaluation(KEY))  # anyone, after the period
    (started,) = events(models, receipt, "ModelVotingStarted")
    assert models.functions.statusOf(KEY).call() == 3  # Voting
    assert contracts["HelioGovernor"].functions.proposalProposer(started["proposalId"]).call() == \
        models.address


def test_setEvaluationPeriod_isGovernanceOnly(
    w3: Web3, contracts: dict[str, Contract], models: Contract, creator
) -> None:  # noqa: ANN001
    assert models.functions.evaluationPeriod().call() == P.evaluation_period_s
    assert revert(w3, creator, models.functions.setEvaluationPeriod(60), M)[0] == \
        "AccessControlUnauthorizedAccount"
    receipt = as_timelock(w3, contracts["HelioTimelock"].address,
                          models.functions.setEvaluationPeriod(60))
    assert events(models, receipt, "EvaluationPeriodSet") == [
        {"oldValue": P.evaluation_period_s, "newValue": 60}]  # fmt: skip


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
