"""`scripts/deploy.py --profile testnet` on an anvil standing in for Sepolia (chain id
11155111) from a fresh, non-dev key: the profile's delays, the funded Faucet, referee roles
and the genesis model are on chain, printed, and recorded in deployments/<network>.json."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from eth_account import Account
from web3.types import RPCEndpoint

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect
from node.chain.deployment import Deployment
from node.chain.faucet import Faucet
from node.chain.profiles import PROFILES

pytestmark = pytest.mark.chain
SEPOLIA = 11155111
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
ROOT = Path(__file__).resolve().parents[3]


def _deploy_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_script", ROOT / "scripts" / "deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sepolia() -> Iterator[Anvil]:
    ensure_compiled()
    with Anvil(chain_id=SEPOLIA) as anvil:
        yield anvil


def _fresh_funded_key(anvil: Anvil) -> str:
    """A key no dev tool knows, with test ETH (a Sepolia faucet's job)."""
    key = "0x" + secrets.token_hex(32)
    address = Account.from_key(key).address
    connect(anvil.rpc_url).provider.make_request(
        RPCEndpoint("anvil_setBalance"), [address, hex(10**20)]
    )
    return key


def _run(anvil: Anvil, tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         *args: str) -> tuple[int, str, str]:  # fmt: skip
    key = _fresh_funded_key(anvil)
    monkeypatch.setenv("HELIO_RPC_URL", anvil.rpc_url)
    monkeypatch.setenv("HELIO_PRIVATE_KEY", key)
    monkeypatch.setenv("HELIO_CHAIN_ID", str(SEPOLIA))
    code = _deploy_script().main(["--network", "sepolia", "--out-dir", str(tmp), *args])
    out, err = capsys.readouterr()
    return code, out + err, key


def test_testnet_profile_with_genesis_model(
    sepolia: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    referee = Account.create().address
    code, out, key = _run(sepolia, tmp_path, monkeypatch, capsys,
                          "--genesis-model", CID, "--referee", referee)  # fmt: skip
    assert code == 0, out
    deployment = Deployment.load("sepolia", tmp_path)
    setup = deployment.setup
    assert setup is not None and setup.profile == "testnet"
    testnet = PROFILES["testnet"]
    assert setup.unbonding_delay_s == testnet.unbonding_delay_s
    assert setup.genesis_model is not None and setup.genesis_model.manifest_cid == CID
    assert setup.referees == [referee] and not setup.dev_accounts_funded
    assert "did: registered and adopted smollm2-135m-instruct" in out
    assert f"referee roles (VERIFIER_ROLE, REFEREE_ROLE) to {referee}" in out
    assert "did NOT: dev accounts not funded" in out and "no model adopted" not in out

    w3 = connect(sepolia.rpc_url, expected_chain_id=SEPOLIA)
    chain = HelioChain.open(w3, "sepolia", None, tmp_path)
    assert chain.models.c.functions.adoptedModels().call() == [
        chain.models.c.functions.keyOf("smollm2-135m-instruct").call()
    ]
    staking = chain.staking.c.functions
    assert staking.unbondingDelay().call() == testnet.unbonding_delay_s
    for contract, role in ((chain.verification, "VERIFIER_ROLE"), (chain.payments, "REFEREE_ROLE")):
        role_id = getattr(contract.c.functions, role)().call()
        assert contract.c.functions.hasRole(role_id, referee).call(), role
    deployer = Account.from_key(key).address
    assert chain.token.balance_of(deployer) == 10**9 * 10**18 - testnet.faucet.reserve
    terms = Faucet.of(chain).terms()
    assert (terms.drip, terms.cooldown_s, terms.balance) == (
        testnet.faucet.drip, testnet.faucet.cooldown_s, testnet.faucet.reserve,
    )  # fmt: skip


def test_testnet_without_genesis_says_what_is_missing(
    sepolia: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, out, key = _run(sepolia, tmp_path, monkeypatch, capsys)
    assert code == 0, out
    setup = Deployment.load("sepolia", tmp_path).setup
    assert setup is not None and setup.genesis_model is None
    assert setup.referees == [Account.from_key(key).address]  # the deployer by default
    assert setup.guardian == Account.from_key(key).address and "proposal guardian" in out
    assert any("no model adopted" in item for item in setup.not_done)
    assert "did NOT: no model adopted" in out
    chain = HelioChain.open(connect(sepolia.rpc_url), "sepolia", None, tmp_path)
    assert chain.models.c.functions.adoptedModels().call() == []


def test_unknown_profile_is_refused(
    sepolia: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    with pytest.raises(SystemExit):
        _run(sepolia, tmp_path, monkeypatch, capsys, "--profile", "mainnet")
    assert "invalid choice: 'mainnet'" in capsys.readouterr().err
