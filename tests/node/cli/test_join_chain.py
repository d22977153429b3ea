"""`helio join` against a testnet-profile deployment (anvil with chain id 11155111, fresh
keys): it finds the adopted model, shows the stake it will bond and the unbonding delay,
refuses early when the operator holds too little HELIO, and asks once before bonding."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner
from web3.types import RPCEndpoint

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect, local_account
from node.chain.deploy import deploy_all
from node.chain.faucet import Faucet
from node.chain.params import DemoModel
from node.chain.profiles import PROFILES
from node.cli.main import app
from node.core.cid import cid_of_file

pytestmark = [pytest.mark.chain, pytest.mark.model]
SEPOLIA = 11155111


def _funded_key(rpc_url: str) -> str:
    key = "0x" + secrets.token_hex(32)
    connect(rpc_url).provider.make_request(
        RPCEndpoint("anvil_setBalance"), [Account.from_key(key).address, hex(10**20)])  # fmt: skip
    return key


@pytest.fixture(scope="module")
def testnet(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil(chain_id=SEPOLIA) as anvil:
        genesis = DemoModel(manifest_cid=cid_of_file(smollm2_dir / "manifest.json"))
        deploy_all(connect(anvil.rpc_url), _funded_key(anvil.rpc_url), "sepolia",
                   directory=directory, profile=PROFILES["testnet"], genesis=genesis)  # fmt: skip
        yield anvil.rpc_url, directory


def _join(testnet: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, key: str, *args: str,
          stdin: str | None = None) -> tuple[int, str]:  # fmt: skip
    rpc_url, directory = testnet
    for name, value in {"HELIO_RPC_URL": rpc_url, "HELIO_NETWORK": "sepolia",
                        "HELIO_DEPLOYMENTS_DIR": str(directory), "HELIO_PRIVATE_KEY": key}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HELIO_CHAIN_ID", raising=False)
    result = CliRunner().invoke(app, ["join", "--energy", "none", *args], input=stdin)
    return result.exit_code, " ".join(result.output.split()) + repr(result.exception or "")


def test_join_refuses_without_helio_and_names_the_faucet(
    testnet: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _join(testnet, monkeypatch, _funded_key(testnet[0]), "--plan-only")
    assert code != 0 and "holds 0 HELIO" in out and "helio wallet faucet" in out


def test_join_shows_the_stake_and_asks_once(
    testnet: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _funded_key(testnet[0])
    chain = HelioChain.open(connect(testnet[0]), "sepolia", local_account(key), testnet[1])
    Faucet.of(chain).drip(chain.account.address)  # type: ignore[union-attr]
    code, out = _join(testnet, monkeypatch, key, "--plan-only")
    assert code == 0, out
    assert "plan: smollm2-135m-instruct" in out  # the chain's adopted model, found in the cache
    assert "bonds 1000 HELIO now (unbonding takes 24 h" in out
    # Declining the one question bonds nothing and serves nothing.
    code, out = _join(testnet, monkeypatch, key, stdin="n\n")
    assert code == 1 and "bond this stake and start serving?" in out
    assert chain.staking.stake_of(chain.account.address).self_stake == 0  # type: ignore[union-attr]
