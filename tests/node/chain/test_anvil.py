"""The chain plumbing around anvil: process lifecycle and its failures, dev keys, chain-id
checks, compiled artifacts, and the deployments/<network>.json round trip."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from eth_account import Account
from web3 import Web3

from node.chain import anvil as anvil_module
from node.chain.anvil import Anvil, free_port, rpc_chain_id
from node.chain.artifacts import ensure_compiled, load_artifact
from node.chain.connect import check_chain_id, connect, local_account
from node.chain.deploy import deploy_all
from node.chain.deployment import Deployment
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS, DEV_MNEMONIC
from node.core.errors import ChainError, ConfigError, ToolchainError
from node.core.paths import PROJECT_ROOT

pytestmark = pytest.mark.chain


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def fake_anvil(tmp_path: Path, body: str) -> Path:
    """A stand-in binary, to provoke failures real anvil would not show on demand."""
    script = tmp_path / "anvil"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def chain() -> Iterator[Anvil]:
    with Anvil() as running:
        yield running


@pytest.fixture(scope="module")
def w3(chain: Anvil) -> Web3:
    ensure_compiled()
    return connect(chain.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)


# --- process lifecycle -------------------------------------------------------------


def test_start_answers_then_stop_removes_the_process() -> None:
    node = Anvil().start()
    pid = node.pid
    assert node.rpc_url.startswith("http://127.0.0.1:")
    assert node.chain_id == ANVIL_CHAIN_ID == rpc_chain_id(node.rpc_url)
    assert pid_alive(pid)
    node.stop()
    assert not pid_alive(pid)  # terminated and reaped
    with pytest.raises(urllib.error.URLError):
        rpc_chain_id(node.rpc_url)
    node.stop()  # idempotent


def test_context_manager_stops_on_error() -> None:
    with pytest.raises(RuntimeError), Anvil() as node:
        pid = node.pid
        raise RuntimeError("boom")
    assert not pid_alive(pid)


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ChainError, match=f"port {port} on 127.0.0.1 is already in use"):
            Anvil(port=port).start()


def test_port_taken_after_the_check_is_reported_from_anvil(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race the pre-check cannot close: anvil itself fails to bind.
    monkeypatch.setattr(anvil_module, "_port_in_use", lambda port: False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ChainError, match="already in use"):
            Anvil(port=port).start()


def test_missing_binary_is_a_toolchain_error(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match=r"anvil not found at .*; run `make setup`"):
        Anvil(binary=tmp_path / "no-anvil").start()


def test_early_exit_reports_stderr_tail(tmp_path: Path) -> None:
    binary = fake_anvil(tmp_path, "echo 'error: unexpected argument' >&2\nexit 2")
    with pytest.raises(
        ChainError, match=r"anvil exited early \(code 2\): error: unexpected argument"
    ):
        Anvil(binary=binary).start()


def test_silent_binary_times_out_and_is_killed(tmp_path: Path) -> None:
    binary = fake_anvil(tmp_path, "exec sleep 30")
    node = Anvil(binary=binary, startup_timeout=0.3)
    with pytest.raises(ChainError, match=r"did not answer within 0.3 s"):
        node.start()
    assert not pid_alive(node.pid)


# --- dev keys and chain ids --------------------------------------------------------


def test_dev_keys_are_anvils_accounts(w3: Web3) -> None:
    assert len(DEV_ACCOUNTS) >= 10
    assert w3.eth.accounts[:10] == [a.address for a in DEV_ACCOUNTS[:10]]
    for account in DEV_ACCOUNTS:
        assert Account.from_key(account.private_key).address == account.address
    Account.enable_unaudited_hdwallet_features()
    assert Account.from_mnemonic(DEV_MNEMONIC).address == DEV_ACCOUNTS[0].address


def test_wrong_chain_id_is_refused() -> None:
    with Anvil(chain_id=4242) as node:
        assert node.chain_id == 4242
        with pytest.raises(ChainError, match=r"chain id 4242, expected 31337"):
            connect(node.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        w3 = connect(node.rpc_url, expected_chain_id=4242)
        assert check_chain_id(w3, 4242) == 4242
        with pytest.raises(ChainError, match=r"chain id 4242, expected 1\b"):
            check_chain_id(w3, 1)


def test_unreachable_rpc_does_not_leak_the_url_path() -> None:
    url = f"http://127.0.0.1:{free_port()}/v3/secret-api-key"
    with pytest.raises(ChainError, match="cannot reach the RPC") as excinfo:
        connect(url, timeout=2)
    assert "secret-api-key" not in str(excinfo.value)


def test_bad_private_key_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as excinfo:
        local_account("0xnot-a-key-but-secret")
    assert "secret" not in str(excinfo.value)


# --- artifacts ---------------------------------------------------------------------


def test_artifact_errors_say_what_to_do(tmp_path: Path) -> None:
    ensure_compiled()
    token = load_artifact("HelioToken")
    assert token.bytecode.startswith("0x") and len(token.bytecode) > 1000
    assert {"permit", "HelioTokenInvalidInitialMint"} <= {i.get("name") for i in token.abi}
    with pytest.raises(ChainError, match=r"NoSuchContract is not in .*run `make compile`"):
        load_artifact("NoSuchContract")
    with pytest.raises(ChainError, match="no compiled contracts at .*run `make compile`"):
        load_artifact("HelioToken", build_file=tmp_path / "__local__.json")
    with pytest.raises(ChainError, match="no deployment bytecode"):
        load_artifact("IHelioToken")


# --- deployments -------------------------------------------------------------------


def test_deployment_round_trip(w3: Web3, tmp_path: Path) -> None:
    before = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    deployed = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["test.json"]  # no temp file left behind

    raw = json.loads((tmp_path / "test.json").read_text())
    assert raw["chain_id"] == ANVIL_CHAIN_ID
    assert raw["deployer"] == DEV_ACCOUNTS[0].address
    assert raw["block_number"] == raw["contracts"]["HelioToken"]["block_number"] >= 1
    assert raw["deployed_at"].endswith("Z")

    loaded = Deployment.load("test", tmp_path)
    assert loaded == deployed
    loaded.check_against(w3)
    assert loaded.contract(w3, "HelioToken").functions.symbol().call() == "HELIO"

    # A chain that lost the contracts (anvil restarted) is caught, not silently used.
    w3.provider.make_request("evm_revert", [before])  # type: ignore[arg-type]
    with pytest.raises(ChainError, match="no code for HelioToken .*redeploy"):
        loaded.check_against(w3)


def test_deployment_file_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match=r"no deployment for network 'test'.*scripts/deploy.py"):
        Deployment.load("test", tmp_path)
    good = {
        "network": "test",
        "chain_id": 31337,
        "deployer": DEV_ACCOUNTS[0].address,
        "block_number": 1,
        "deployed_at": "2026-01-01T00:00:00Z",
        "contracts": {
            "HelioToken": {
                "address": DEV_ACCOUNTS[1].address,
                "block_number": 1,
                "tx_hash": "0x" + "ab" * 32,
            }
        },
    }
    (tmp_path / "test.json").write_text(json.dumps(good))
    assert Deployment.load("test", tmp_path).address("HelioToken") == DEV_ACCOUNTS[1].address

    bad = {**good, "deployer": "0x1234"}
    (tmp_path / "test.json").write_text(json.dumps(bad))
    with pytest.raises(ChainError, match=r"test.json is invalid: deployer"):
        Deployment.load("test", tmp_path)

    (tmp_path / "test.json").write_text(json.dumps({**good, "block_number": 0}))
    with pytest.raises(ChainError, match="not the first block"):
        Deployment.load("test", tmp_path)

    (tmp_path / "other.json").write_text(json.dumps(good))
    with pytest.raises(ChainError, match="is for network 'test', not 'other'"):
        Deployment.load("other", tmp_path)


def test_deploy_revert_is_decoded(w3: Web3, tmp_path: Path) -> None:
    with pytest.raises(ChainError, match=r"HelioTokenInvalidInitialMint\(0xf39F.*, 0\)"):
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=tmp_path, initial_supply=0)
    assert not (tmp_path / "test.json").exists()
    with pytest.raises(ConfigError, match="network name"):
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "../etc", directory=tmp_path)


# --- scripts/deploy.py -------------------------------------------------------------


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deploy_script", PROJECT_ROOT / "scripts/deploy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deploy_script_on_local_anvil(chain: Anvil, w3: Web3, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/deploy.py", "--network", "local", "--rpc-url", chain.rpc_url,
         "--out-dir", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("HELIO_")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "HelioToken" in result.stdout
    Deployment.load("local", tmp_path).check_against(w3)


def test_deploy_script_needs_rpc_and_key_for_a_testnet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("HELIO_RPC_URL", "HELIO_PRIVATE_KEY", "HELIO_CHAIN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HELIO_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    assert load_script().main(["--network", "sepolia", "--out-dir", str(tmp_path)]) == 1
    assert "HELIO_RPC_URL" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
