"""Energy attestations on a real chain: the runner's reports, signed with the inferer's
registered attestation key, land in EnergyAttestations at every state change and at
most once per interval; a referee reads them back as verified claims."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from energykit import GateHost, Switchable, ticks
from eth_account import Account

from node.chain import Anvil, connect, deploy_all, ensure_compiled, local_account, transact
from node.chain.devkeys import DEV_ACCOUNTS
from node.crypto.eip712 import Domain
from node.energy import ControllerConfig, Decision, EnergyController, EnergyReading, InfererState
from node.energy.attest import ChainPoster, EnergyAttester, PostingPolicy
from node.energy.clock import ManualClock
from node.energy.runner import EnergyRunner
from node.referee.energy_claims import verify_payload

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    ensure_compiled()
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=anvil.chain_id)
        directory: Path = tmp_path_factory.mktemp("deployments")
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "energytest", directory=directory)
        yield w3, deployment


def funded_inferer(w3, seed: bytes) -> tuple:
    """A fresh inferer account with ETH for gas, and its signing account for ``transact``."""
    inferer = Account.from_key(seed * 32)
    w3.provider.make_request("anvil_setBalance", [inferer.address, hex(10**20)])
    return inferer, local_account(inferer.key.hex())


def test_runner_posts_signed_reports_on_state_changes(chain) -> None:
    w3, deployment = chain
    energy = deployment.contract(w3, "EnergyAttestations")
    staking = deployment.contract(w3, "StakingRegistry")
    inferer, me = funded_inferer(w3, b"\x42")
    transact(w3, me, staking.functions.register("12D3KooWenergyrunner", inferer.address, "UTC+1", 8))
    domain = Domain.of(energy)

    def chain_now() -> float:
        return float(w3.eth.get_block("latest")["timestamp"])

    async def scenario() -> tuple[EnergyAttester, ChainPoster]:
        clock = ManualClock(0.0)
        adapter = Switchable(clock, available_w=2500.0, soc=0.8)
        host = GateHost()
        poster = ChainPoster(energy, lambda call: transact(w3, me, call))
        attester = EnergyAttester(
            inferer.address, inferer.key.hex(), domain,
            policy=PostingPolicy(min_interval_s=3600), poster=poster, wall_clock=chain_now,
            extras=lambda: {"sessions": host.active_sessions(), "utc_offset_h": 1.0, "span": [0, 30]},
        )
        cfg = ControllerConfig(window_s=30, dwell_s=60, max_dwell_s=60)
        runner = EnergyRunner(adapter, EnergyController(cfg, 0.0), host, clock=clock, on_report=attester)
        await ticks(runner, clock, 30)  # joining -> loading -> online
        assert runner.state is InfererState.ONLINE
        adapter.dead = True  # the inverter dies: fail safe drains and unloads
        await ticks(runner, clock, 12)
        assert runner.state is InfererState.OFFLINE
        poster.close()
        return attester, poster

    attester, poster = asyncio.run(scenario())
    assert poster.errors == []
    # 42 reports signed, but only the state changes went on-chain (interval 1 h):
    # joining, loading, online, draining, offline (a post may batch several).
    assert attester.posted == 5
    latest = energy.functions.latest(inferer.address).call()
    assert attester.last_posted is not None
    assert latest[4] == InfererState.OFFLINE and latest[5] == attester.last_posted.report.nonce
    assert not energy.functions.isRenewableActive(inferer.address).call()
    gas = [int(r["gasUsed"]) for r in poster.receipts]
    assert all(g < 300_000 for g in gas)
    # The DHT payload of the last report verifies as the referee would check it.
    assert attester.latest is not None
    key_of = staking.functions.attestationKeyOf
    claim = verify_payload(attester.latest.to_bytes(), domain, lambda a: key_of(a).call(), chain_now())
    assert claim.state is InfererState.OFFLINE and claim.inferer == inferer.address


def test_attestation_gas_measurement() -> None:
    from node.sim.gas import measure_attestation_gas

    gas = measure_attestation_gas(batch=4)
    assert 30_000 < gas["submit_gas"] < gas["submit_first_gas"] < 150_000
    assert gas["batch_gas_per_report"] < gas["submit_gas"]
    assert gas["posts_per_inferer_day"] == 28.0


def _wait(condition, timeout_s: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the poster did not get there in time"
        time.sleep(0.05)


def test_failed_posts_are_logged_once_and_retried_at_the_next_policy_point(chain, caplog) -> None:
    """An inferer whose key is not registered yet: its posts revert (EnergyNotRegistered),
    the outage is logged once, the next report the policy makes due (interval counted on
    the energy clock) goes out as usual and lands once the key is registered."""
    import logging

    w3, deployment = chain
    energy = deployment.contract(w3, "EnergyAttestations")
    staking = deployment.contract(w3, "StakingRegistry")
    inferer, me = funded_inferer(w3, b"\x43")
    poster = ChainPoster(energy, lambda call: transact(w3, me, call))
    attester = EnergyAttester(inferer.address, inferer.key.hex(), Domain.of(energy), poster=poster,
                              policy=PostingPolicy(min_interval_s=60), policy_on_energy_clock=True,
                              wall_clock=lambda: float(w3.eth.get_block("latest")["timestamp"]))
    online = Decision(InfererState.ONLINE, None, 8, 900.0, 0.5, False, True)
    reading = EnergyReading(0.0, "fixed", 1500.0, 900.0, 0.5)
    with caplog.at_level(logging.DEBUG, logger="node.energy.attest"):
        for t in range(0, 65, 5):  # energy-clock seconds: due at 0 and 60 only
            attester(float(t), reading, online)
            _wait(lambda t=t: len(poster.errors) == (t >= 0) + (t >= 60))  # one post at a time
        transact(w3, me, staking.functions.register("12D3KooWenergyretry", inferer.address, "UTC+1", 8))
        for t in range(65, 125, 5):  # due again at 120: lands now
            attester(float(t), reading, online)
        _wait(lambda: poster.reports_posted == 1)
        poster.close()
    assert attester.posted == 3 and all("EnergyNotRegistered" in e for e in poster.errors)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "EnergyNotRegistered" in warnings[0].getMessage()
    assert any("reach the chain again" in r.getMessage() for r in caplog.records)
    assert attester.last_posted is not None
    assert energy.functions.latest(inferer.address).call()[5] == attester.last_posted.report.nonce


def test_reports_the_chain_did_not_answer_for_are_kept_and_land_in_order(chain) -> None:
    """While the RPC does not answer (simulated here at the poster's ``send``: a refused
    connection; tests/chaos kills a real anvil), reports are kept and retried every
    ``retry_s``; once it answers they land oldest first, before nothing newer."""
    w3, deployment = chain
    energy = deployment.contract(w3, "EnergyAttestations")
    staking = deployment.contract(w3, "StakingRegistry")
    inferer, me = funded_inferer(w3, b"\x44")
    transact(w3, me, staking.functions.register("12D3KooWenergykeep", inferer.address, "UTC+1", 8))
    down = True

    def send(call):
        if down:
            raise ConnectionRefusedError("the chain does not answer")
        return transact(w3, me, call)

    poster = ChainPoster(energy, send, retry_s=0.2)
    attester = EnergyAttester(inferer.address, inferer.key.hex(), Domain.of(energy), poster=poster,
                              policy=PostingPolicy(min_interval_s=0),
                              wall_clock=lambda: float(w3.eth.get_block("latest")["timestamp"]))
    reading = EnergyReading(0.0, "fixed", 1500.0, 900.0, 0.5)
    for state in (InfererState.LOADING, InfererState.ONLINE):
        attester(0.0, reading, Decision(state, None, 8, 900.0, 0.5, False, True))
    _wait(lambda: len(poster.undelivered) == 2 and len(poster.errors) >= 2)
    assert energy.functions.latest(inferer.address).call()[5] == 0  # nothing on chain yet
    down = False
    _wait(lambda: poster.reports_posted == 2)
    poster.close()
    assert poster.undelivered == []
    latest = energy.functions.latest(inferer.address).call()
    assert attester.last_posted is not None
    assert latest[4] == InfererState.ONLINE and latest[5] == attester.last_posted.report.nonce


def test_a_reverted_report_is_not_retried(chain) -> None:
    """A report the chain refuses (not registered: EnergyNotRegistered) would fail the same
    way again and hold back every later one: it is dropped, not kept."""
    w3, deployment = chain
    energy = deployment.contract(w3, "EnergyAttestations")
    inferer, me = funded_inferer(w3, b"\x45")
    poster = ChainPoster(energy, lambda call: transact(w3, me, call), retry_s=0.2)
    attester = EnergyAttester(inferer.address, inferer.key.hex(), Domain.of(energy), poster=poster,
                              wall_clock=lambda: float(w3.eth.get_block("latest")["timestamp"]))
    attester(0.0, EnergyReading(0.0, "fixed", 1500.0, 900.0, 0.5),
             Decision(InfererState.ONLINE, None, 8, 900.0, 0.5, False, True))
    _wait(lambda: len(poster.errors) == 1)
    poster.close()
    assert "EnergyNotRegistered" in poster.errors[0] and poster.undelivered == []
