"""``helio stake|unstake|withdraw`` and ``helio model propose|vote`` against a real anvil
with the whole suite deployed (typer's CliRunner, in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect
from node.chain.deploy import deploy_all
from node.chain.devkeys import DEV_ACCOUNTS
from node.cli.main import app
from node.cli.stake import to_wei
from node.core.errors import ConfigError

pytestmark = pytest.mark.chain
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        deploy_all(
            connect(anvil.rpc_url), DEV_ACCOUNTS[0].private_key, "local", directory=directory
        )
        yield anvil.rpc_url, directory


def helio(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    rpc_url, directory = chain
    monkeypatch.setenv("HELIO_DEPLOYMENTS_DIR", str(directory))
    for name in ("HELIO_PRIVATE_KEY", "HELIO_CHAIN_ID", "HELIO_NETWORK"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, [*args, "--rpc-url", rpc_url])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_stake_unstake_withdraw(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = helio(
        chain,
        monkeypatch,
        "stake",
        "1500",
        "--peer-id",
        "12D3KooWcli",
        "--region",
        "UTC",
        "--dev-account",
        "1",
    )
    assert "registered" in out and "own stake 1500 HELIO, active: True" in out
    out = helio(chain, monkeypatch, "stake", "0.5", "--dev-account", "1")
    assert "own stake 1500.5 HELIO" in out
    out = helio(chain, monkeypatch, "unstake", "500.5", "--dev-account", "1")
    assert "unbonding 500.5 HELIO" in out
    with pytest.raises(Exception, match="StakingStillUnbonding"):
        helio(chain, monkeypatch, "withdraw", "--dev-account", "1")
    w3 = connect(chain[0])
    w3.provider.make_request("evm_increaseTime", [2 * 24 * 3600])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert "withdrew 500.5 HELIO" in helio(chain, monkeypatch, "withdraw", "--dev-account", "1")


def test_model_propose_and_vote(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    for n in (2, 3):
        helio(
            chain,
            monkeypatch,
            "stake",
            "1000",
            "--peer-id",
            f"12D3KooW{n}",
            "--dev-account",
            str(n),
        )
    out = helio(chain, monkeypatch, "model", "propose", "cli-model", "--cid", CID, "--license", "MIT",
                "--family", "llama", "--min-memory-mb", "600", "--energy-mj-per-token", "900",
                "--max-latency-ms", "300", "--dev-account", "4")  # fmt: skip
    assert "proposed cli-model: evaluating" in out
    w3 = connect(chain[0])
    as_inferer = HelioChain.open(w3, "local", directory=chain[1])
    from node.chain.connect import local_account

    as_inferer.account = local_account(DEV_ACCOUNTS[2].private_key)
    as_inferer.models.post_benchmark("cli-model", 25.5, 900, 8_000)
    w3.provider.make_request("anvil_mine", ["0x2"])  # type: ignore[arg-type]
    out = helio(chain, monkeypatch, "model", "vote", "cli-model", "--open", "--dev-account", "4")
    assert "vote on cli-model is open" in out
    w3.provider.make_request("anvil_mine", ["0x2"])  # type: ignore[arg-type]
    out = helio(
        chain, monkeypatch, "model", "vote", "cli-model", "--support", "for", "--dev-account", "2"
    )
    assert "'for': 1000000000000000000000" in out


def test_amounts_and_keys_are_checked(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert to_wei("1.25") == 125 * 10**16
    for bad in ("-1", "0", "abc", "1e-19"):
        with pytest.raises(ConfigError):
            to_wei(bad)
    with pytest.raises(ConfigError, match="HELIO_PRIVATE_KEY"):
        helio(chain, monkeypatch, "withdraw")
    with pytest.raises(ConfigError, match="--peer-id"):
        helio(chain, monkeypatch, "stake", "1000", "--dev-account", "7")
