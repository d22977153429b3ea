"""Energy claims against a real chain (anvil + the deployed contracts): a referee tied to
a deployment trusts a DHT energy report only when it is signed under the deployed
EnergyAttestations EIP-712 domain by the key StakingRegistry.attestationKeyOf returns
(cached); any other key, the zero-address domain, or an unregistered inferer is ignored."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_energy_records import PEERS, rec

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect, local_account
from node.chain.deploy import deploy_all
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.crypto.eip712 import Domain
from node.energy.attest import build_report, energy_domain, sign_payload
from node.energy.reading import EnergyReading
from node.energy.state import InfererState
from node.referee.energy_keys import AttestationKeys
from node.referee.energy_records import RecordEnergy
from node.referee.planner import RoutePlanner

pytestmark = [pytest.mark.chain, pytest.mark.slow]
MODEL = "smollm2-135m-instruct"
OWN, DELEGATING, UNREGISTERED = 1, 2, 3  # dev accounts (PUBLIC anvil keys)
SIGNER = DEV_ACCOUNTS[7]  # the attestation key DELEGATING registered


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelioChain]:
    ensure_compiled()
    directory: Path = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=directory)
        for i, key in ((OWN, DEV_ACCOUNTS[OWN].address), (DELEGATING, SIGNER.address)):
            me = HelioChain.open(w3, "test", local_account(DEV_ACCOUNTS[i].private_key), directory)
            me.staking.ensure_staked(peer_id=PEERS[i], attestation_key=key, region="UTC+1", capacity=8)
        yield HelioChain.open(w3, "test", None, directory)


def payload(i: int, headroom_w: float, key: str, domain: Domain) -> str:
    now = time.time()
    reading = EnergyReading(timestamp=now, source="fixed", available_w=headroom_w, headroom_w=headroom_w)
    report = build_report(DEV_ACCOUNTS[i].address, reading, InfererState.ONLINE, 0.0,
                          nonce=int(now * 1000), timestamp=int(now))
    return sign_payload(report, {"capacity": 8, "sessions": 0, "span": [0, 30]}, key, domain).to_bytes().decode()


def test_claims_verify_only_under_the_contract_domain_and_registered_key(
        chain: HelioChain, caplog: pytest.LogCaptureFixture) -> None:
    domain = Domain.of(chain.energy.c)
    assert domain.verifying_contract == chain.energy.address and domain != energy_domain()
    energy = RecordEnergy.for_chain(chain)
    good = [
        rec(OWN, energy=payload(OWN, 500.0, DEV_ACCOUNTS[OWN].private_key, domain)),
        rec(DELEGATING, energy=payload(DELEGATING, 900.0, SIGNER.private_key, domain)),
    ]
    claims = energy.observe(good)
    assert {(c.inferer, c.headroom_w) for c in claims} == {
        (DEV_ACCOUNTS[OWN].address, 500.0), (DEV_ACCOUNTS[DELEGATING].address, 900.0)}
    bad: list[tuple[Any, str]] = [
        # signed by the inferer's own address, but it registered another attestation key
        (rec(DELEGATING, energy=payload(DELEGATING, 2000.0, DEV_ACCOUNTS[DELEGATING].private_key, domain)),
         "not by"),
        # the right key, but the zero-address domain (what an inferer without a chain signs)
        (rec(OWN, energy=payload(OWN, 2000.0, DEV_ACCOUNTS[OWN].private_key, energy_domain())), "signed by"),
        # never registered on-chain
        (rec(UNREGISTERED, energy=payload(UNREGISTERED, 2000.0, DEV_ACCOUNTS[UNREGISTERED].private_key, domain)),
         "no registered attestation key"),
    ]
    for record, why in bad:
        fresh = RecordEnergy.for_chain(chain)
        with caplog.at_level(logging.WARNING, logger="node.referee.energy_records"):
            assert fresh.observe([record]) == []
        assert why in fresh.rejected[record.peer_id], fresh.rejected
    # The planner: a 2000 W claim under the wrong domain earns nothing, the verified 300 W
    # one wins; the same 2000 W under the contract's domain wins (so the check can fail).
    def first(own_domain: Domain) -> str:
        records = [rec(OWN, energy=payload(OWN, 2000.0, DEV_ACCOUNTS[OWN].private_key, own_domain)),
                   rec(DELEGATING, energy=payload(DELEGATING, 300.0, SIGNER.private_key, domain))]
        view = RecordEnergy.for_chain(chain)
        view.observe(records)
        return RoutePlanner(penalty_ms=view.penalty).plan(records, MODEL, 0, 30)[0].peer_id

    assert first(energy_domain()) == PEERS[DELEGATING]
    assert first(domain) == PEERS[OWN]


def test_attestation_keys_are_cached_and_follow_updates(chain: HelioChain) -> None:
    keys = AttestationKeys(chain.staking, ttl_s=3600)
    assert keys(DEV_ACCOUNTS[DELEGATING].address) == SIGNER.address
    assert keys(DEV_ACCOUNTS[DELEGATING].address.lower()) == SIGNER.address
    assert keys(DEV_ACCOUNTS[UNREGISTERED].address) is None
    assert keys.lookups == 2  # the second ask for DELEGATING came from the cache
    # The inferer registers another key: a referee sees it after its cache entry expires.
    staking = chain.staking.with_account(local_account(DEV_ACCOUNTS[DELEGATING].private_key))
    node = staking.node_of(DEV_ACCOUNTS[DELEGATING].address)  # type: ignore[attr-defined]
    staking.update_node(node.peer_id, DEV_ACCOUNTS[8].address, node.region, node.capacity)  # type: ignore[attr-defined]
    try:
        assert keys(DEV_ACCOUNTS[DELEGATING].address) == SIGNER.address  # cached
        keys.forget(DEV_ACCOUNTS[DELEGATING].address)
        assert keys(DEV_ACCOUNTS[DELEGATING].address) == DEV_ACCOUNTS[8].address
    finally:
        staking.update_node(node.peer_id, SIGNER.address, node.region, node.capacity)  # type: ignore[attr-defined]


def test_attestation_keys_fail_closed_when_the_chain_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    class Down:
        class c:  # noqa: N801 - shaped like a web3 contract handle
            class functions:  # noqa: N801
                @staticmethod
                def attestationKeyOf(address: str) -> Any:  # noqa: N802 - the contract's name
                    raise ConnectionError("connection refused")

    keys = AttestationKeys(Down())
    with caplog.at_level(logging.WARNING, logger="node.referee.energy_keys"):
        assert keys(DEV_ACCOUNTS[OWN].address) is None
        keys.forget()
        assert keys(DEV_ACCOUNTS[OWN].address) is None
    assert sum("lookup failed" in r.getMessage() for r in caplog.records) == 1  # logged once
