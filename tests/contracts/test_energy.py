"""EnergyAttestations on anvil: reports signed in Python with eth-account are accepted
from the registered attestation key only; stale, future, replayed, malformed and wrongly
signed reports revert with their exact errors; batches; the latest/isRenewableActive views."""

from __future__ import annotations

import pytest
from chainkit import actor, advance, events, fund_eth, make_inferer, now, revert, send
from web3 import Web3
from web3.contract import Contract

from node.chain.params import ChainParams
from node.crypto.eip712 import Domain, EnergyReport, InfererState

pytestmark = pytest.mark.chain
E = "EnergyAttestations"
P = ChainParams()


@pytest.fixture
def energy(contracts: dict[str, Contract]) -> Contract:
    return contracts[E]


def report(
    who, ts: int, nonce: int = 1, state: int = InfererState.ONLINE, headroom: int = 300
) -> EnergyReport:  # noqa: ANN001
    return EnergyReport(who.address, ts, 900, 6_500, headroom, state, nonce)


def signed(energy: Contract, r: EnergyReport, key: str) -> tuple[tuple, bytes]:
    return r.as_tuple(), r.sign(key, Domain.of(energy))


def test_submit_stores_latest_and_emits(
    w3: Web3, contracts: dict[str, Contract], energy: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    relayer = actor("relayer")
    fund_eth(w3, relayer)
    r = report(alice, now(w3))
    receipt = send(w3, relayer, energy.functions.submit(*signed(energy, r, alice.private_key)))
    assert events(energy, receipt, "EnergyReported") == [{
        "inferer": alice.address, "timestamp": r.timestamp, "availablePowerW": 900,
        "batterySocBps": 6_500, "headroomW": 300, "state": 2, "nonce": 1,
    }]  # fmt: skip
    assert energy.functions.latest(alice.address).call() == (r.timestamp, 900, 6_500, 300, 2, 1)
    assert energy.functions.isRenewableActive(alice.address).call()


def test_renewable_active_needs_fresh_serving_headroom(
    w3: Web3, contracts: dict[str, Contract], energy: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    assert not energy.functions.isRenewableActive(alice.address).call()  # no report yet
    send(
        w3,
        alice,
        energy.functions.submit(
            *signed(energy, report(alice, now(w3), 1, headroom=0), alice.private_key)
        ),
    )
    assert not energy.functions.isRenewableActive(alice.address).call()
    send(
        w3,
        alice,
        energy.functions.submit(
            *signed(energy, report(alice, now(w3), 2, InfererState.DRAINING), alice.private_key)
        ),
    )
    assert not energy.functions.isRenewableActive(alice.address).call()
    send(
        w3,
        alice,
        energy.functions.submit(
            *signed(energy, report(alice, now(w3), 3, InfererState.LOADING), alice.private_key)
        ),
    )
    assert energy.functions.isRenewableActive(alice.address).call()
    advance(w3, P.energy_max_age_s + 2)
    assert not energy.functions.isRenewableActive(alice.address).call()  # went stale


def test_only_the_registered_attestation_key_signs(
    w3: Web3, contracts: dict[str, Contract], energy: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    attest = actor("alice-attest")
    staking = contracts["StakingRegistry"]
    send(
        w3,
        alice,
        staking.functions.updateNode("12D3KooWalice", attest.address, "Europe/Berlin", 10),
    )
    r = report(alice, now(w3))
    # Signed by the inferer's own key, which is no longer its attestation key:
    tup, sig = signed(energy, r, alice.private_key)
    assert revert(w3, alice, energy.functions.submit(tup, sig), E) == (
        "EnergyBadSignature",
        (alice.address, alice.address, attest.address),
    )
    send(w3, alice, energy.functions.submit(*signed(energy, r, attest.private_key)))
    # A garbage signature recovers nobody.
    r2 = report(alice, now(w3), 2)
    assert (
        revert(w3, alice, energy.functions.submit(r2.as_tuple(), b"\x01" * 65), E)[0]
        == "EnergyBadSignature"
    )


def test_unregistered_stale_future_replayed_invalid(
    w3: Web3, contracts: dict[str, Contract], energy: Contract
) -> None:
    alice = make_inferer(w3, contracts, "alice")
    stranger = actor("stranger")
    fund_eth(w3, stranger)
    t = now(w3)
    call = energy.functions.submit(*signed(energy, report(stranger, t), stranger.private_key))
    assert revert(w3, stranger, call, E) == ("EnergyNotRegistered", (stranger.address,))
    # Reverts are checked against the next block (t + 1) on anvil's automine.
    stale = report(alice, t - P.energy_max_age_s - 5)
    name, (ts, oldest) = revert(
        w3, alice, energy.functions.submit(*signed(energy, stale, alice.private_key)), E
    )
    assert (name, ts) == ("EnergyReportStale", stale.timestamp) and oldest > ts
    future = report(alice, t + P.energy_max_future_skew_s + 60)
    name, (ts, latest_ok) = revert(
        w3, alice, energy.functions.submit(*signed(energy, future, alice.private_key)), E
    )
    assert (name, ts) == ("EnergyReportFromFuture", future.timestamp) and latest_ok < ts
    send(
        w3, alice, energy.functions.submit(*signed(energy, report(alice, t, 5), alice.private_key))
    )
    replay = report(alice, t, 5)
    assert revert(
        w3, alice, energy.functions.submit(*signed(energy, replay, alice.private_key)), E
    ) == ("EnergyReportReplayed", (5, 5))
    older = report(alice, t, 4)
    assert revert(
        w3, alice, energy.functions.submit(*signed(energy, older, alice.private_key)), E
    ) == ("EnergyReportReplayed", (4, 5))
    # Out-of-range fields (the Python struct refuses them, so encode by hand).
    bad = (alice.address, t, 1, 10_001, 1, 2, 9)
    assert revert(w3, alice, energy.functions.submit(bad, b"\x00" * 65), E) == (
        "EnergyInvalidReport",
        (10_001, 2),
    )
    bad = (alice.address, t, 1, 1, 1, 5, 9)
    assert revert(w3, alice, energy.functions.submit(bad, b"\x00" * 65), E) == (
        "EnergyInvalidReport",
        (1, 5),
    )


def test_batch_submit_and_its_reverts(
    w3: Web3, contracts: dict[str, Contract], energy: Contract
) -> None:
    inferers = [make_inferer(w3, contracts, f"inf{i}") for i in range(3)]
    t = now(w3)
    reports = [report(who, t, 7) for who in inferers]
    tuples = [r.as_tuple() for r in reports]
    sigs = [
        r.sign(who.private_key, Domain.of(energy)) for r, who in zip(reports, inferers, strict=True)
    ]
    receipt = send(w3, inferers[0], energy.functions.submitBatch(tuples, sigs))
    assert [e["inferer"] for e in events(energy, receipt, "EnergyReported")] == [
        w.address for w in inferers
    ]
    assert revert(w3, inferers[0], energy.functions.submitBatch(tuples, sigs[:2]), E) == (
        "EnergyBatchLength",
        (3, 2),
    )
    # One bad report reverts the whole batch (here: all replays now).
    assert revert(w3, inferers[0], energy.functions.submitBatch(tuples, sigs), E) == (
        "EnergyReportReplayed",
        (7, 7),
    )
    big = energy.functions.maxBatch().call() + 1
    assert revert(
        w3, inferers[0], energy.functions.submitBatch([tuples[0]] * big, [sigs[0]] * big), E
    ) == ("EnergyBatchTooLarge", (big, big - 1))


def test_views_and_parameters(contracts: dict[str, Contract], energy: Contract) -> None:
    assert energy.functions.staking().call() == contracts["StakingRegistry"].address
    assert energy.functions.maxAge().call() == P.energy_max_age_s
    assert energy.functions.maxFutureSkew().call() == P.energy_max_future_skew_s
    assert energy.functions.ENERGY_REPORT_TYPEHASH().call() == EnergyReport.typehash()
