"""node/chain's deploy of the whole suite and its typed wrappers, on a real anvil:
idempotent deploys, the wired roles, the demo model, HelioChain.open's errors, the
start-up register-and-stake step, and decoded reverts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.base import ContractRevert
from node.chain.bindings import HelioChain
from node.chain.connect import connect, local_account
from node.chain.deploy import CONTRACTS, deploy_all
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.chain.params import ChainParams, DemoModel
from node.core.errors import ChainError
from node.crypto.eip712 import EnergyReport, InfererState, Voucher, model_key

pytestmark = pytest.mark.chain
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


@pytest.fixture(scope="module")
def w3() -> Iterator[Web3]:
    ensure_compiled()
    with Anvil() as chain:
        yield connect(chain.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)


@pytest.fixture(scope="module")
def deployed(w3: Web3, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("deployments")
    params = ChainParams(demo_model=DemoModel(manifest_cid=CID))
    deploy_all(w3, DEV_ACCOUNTS[0].private_key, "local", directory=directory, params=params)
    return directory


def test_deploy_is_idempotent_per_network(w3: Web3, deployed: Path) -> None:
    first = json.loads((deployed / "local.json").read_text())
    assert set(first["contracts"]) == {spec.name for spec in CONTRACTS}
    block = w3.eth.block_number
    again = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "local", directory=deployed)
    assert w3.eth.block_number == block  # nothing sent
    assert again.model_dump(mode="json") == first


def test_redeploys_when_the_chain_lost_the_contracts(tmp_path: Path) -> None:
    with Anvil() as first, Anvil() as second:
        a = deploy_all(
            connect(first.rpc_url), DEV_ACCOUNTS[0].private_key, "local", directory=tmp_path
        )
        b = deploy_all(
            connect(second.rpc_url), DEV_ACCOUNTS[0].private_key, "local", directory=tmp_path
        )
        # Same deployer and nonces give the same addresses, but the second chain got its own deploy.
        assert b.deployed_at > a.deployed_at


def test_demo_model_and_roles(w3: Web3, deployed: Path) -> None:
    chain = HelioChain.open(w3, "local", directory=deployed)
    assert chain.models.adopted_models() == ["smollm2-135m-instruct"]
    model = chain.models.model("smollm2-135m-instruct")
    assert (model["manifest_cid"], model["status"], model["family"]) == (CID, "adopted", "llama")
    assert chain.token.balance_of(DEV_ACCOUNTS[5].address) == ChainParams().dev_funding


def test_open_errors_say_what_to_do(w3: Web3, deployed: Path, tmp_path: Path) -> None:
    with pytest.raises(ChainError, match=r"no deployment for network 'local'.*scripts/deploy.py"):
        HelioChain.open(w3, "local", directory=tmp_path)
    raw = json.loads((deployed / "local.json").read_text())
    (tmp_path / "local.json").write_text(json.dumps({**raw, "chain_id": 5}))
    with pytest.raises(ChainError, match="on chain id 5, but the RPC has chain id 31337"):
        HelioChain.open(w3, "local", directory=tmp_path)


def test_node_start_registers_stakes_and_attests(w3: Web3, deployed: Path) -> None:
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        inferer = DEV_ACCOUNTS[3]
        chain = HelioChain.open(w3, "local", local_account(inferer.private_key), deployed)
        staking = chain.staking
        done = staking.ensure_staked(peer_id="12D3KooWx", attestation_key=inferer.address,
                                     region="Europe/Berlin", capacity=20)  # fmt: skip
        assert done == ["registered", f"staked {staking.min_stake()}"]
        assert staking.is_active(inferer.address)
        assert staking.ensure_staked(peer_id="12D3KooWx", attestation_key=inferer.address,
                                     region="Europe/Berlin", capacity=20) == []  # fmt: skip
        assert staking.ensure_staked(peer_id="12D3KooWy", attestation_key=inferer.address,
                                     region="Europe/Berlin", capacity=20) == ["updated"]  # fmt: skip

        ts = int(w3.eth.get_block("latest")["timestamp"])
        report = EnergyReport(inferer.address, ts, 800, 5000, 250, InfererState.ONLINE, 1)
        chain.energy.submit(report, report.sign(inferer.private_key, chain.energy.domain()))
        assert chain.energy.latest(inferer.address)["headroom_w"] == 250
        assert chain.energy.is_renewable_active(inferer.address)
        with pytest.raises(
            ContractRevert,
            match=r"EnergyAttestations.submit reverted: EnergyReportReplayed\(1, 1\)",
        ):
            chain.energy.submit(report, report.sign(inferer.private_key, chain.energy.domain()))
        with pytest.raises(ContractRevert, match=r"StakingBelowMinimum"):
            staking.request_unstake(1)
    finally:
        w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


def test_payments_round_trip_through_the_wrappers(w3: Web3, deployed: Path) -> None:
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        client, gateway = DEV_ACCOUNTS[4], DEV_ACCOUNTS[5]
        as_client = HelioChain.open(w3, "local", local_account(client.private_key), deployed)
        ts = int(w3.eth.get_block("latest")["timestamp"])
        channel = as_client.payments.open_channel(gateway.address, 10**18, ts + 3600)
        v = Voucher(
            client.address,
            gateway.address,
            channel,
            model_key("smollm2-135m-instruct"),
            10**17,
            ts + 600,
        )
        sig = v.sign(client.private_key, as_client.payments.domain())
        as_gateway = HelioChain.open(w3, "local", local_account(gateway.private_key), deployed)
        as_gateway.payments.redeem(v, sig)
        assert as_gateway.payments.channel(channel)["redeemed"] == 10**17
        assert as_gateway.payments.unallocated_pool() == 7 * 10**16
        with pytest.raises(ChainError, match="needs a signing account"):
            HelioChain.open(w3, "local", directory=deployed).payments.reclaim(channel)
    finally:
        w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
