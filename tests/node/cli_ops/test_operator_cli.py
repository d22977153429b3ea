"""The operator's money and stake commands on a real anvil with the whole suite deployed
(typer's CliRunner, in process): `helio wallet faucet|transfer`, `helio node identity`,
`helio stake --identity`, `helio status --mine`, and `helio node serve`'s stake plan."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect
from node.chain.deploy import deploy_all
from node.chain.devkeys import DEV_ACCOUNTS
from node.cli.main import app
from node.core.errors import ConfigError, HeliomeshError

pytestmark = pytest.mark.chain
HELIO = 10**18
DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(in \d+ d"  # a human date, in the future


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        deploy_all(connect(anvil.rpc_url), DEV_ACCOUNTS[0].private_key, "local", directory=directory)
        yield anvil.rpc_url, directory


@pytest.fixture()
def run(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`helio ARGS` with the chain given by settings only (HELIO_RPC_URL, no flags)."""
    rpc_url, directory = chain
    monkeypatch.chdir(tmp_path)  # no stray .env / heliomesh.toml
    monkeypatch.setenv("HELIO_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("HELIO_RPC_URL", rpc_url)
    monkeypatch.setenv("HELIO_DEPLOYMENTS_DIR", str(directory))
    for name in ("HELIO_PRIVATE_KEY", "HELIO_CHAIN_ID", "HELIO_NETWORK", "HELIO_IDENTITY"):
        monkeypatch.delenv(name, raising=False)

    def helio(*args: str, env: dict[str, str] | None = None) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        return result.output

    return helio


def _chain(chain: tuple[str, Path]) -> HelioChain:
    return HelioChain.open(connect(chain[0]), "local", None, chain[1])


def test_faucet_then_transfer_moves_helio_and_refuses_what_it_cannot_do(run, chain) -> None:  # type: ignore[no-untyped-def]
    view = _chain(chain)
    me = DEV_ACCOUNTS[8].address
    before = view.token.balance_of(me)
    out = run("wallet", "faucet", "--dev-account", "8")
    assert view.token.balance_of(me) > before and re.search("next drip " + DATE[:-7], out), out
    with pytest.raises(ConfigError, match="next drip"):  # the cooldown, before any transaction
        run("wallet", "faucet", "--dev-account", "8")
    other = Account.create().address
    out = run("wallet", "transfer", other, "1.5", "--dev-account", "8")
    assert view.token.balance_of(other) == 3 * HELIO // 2 and "sent 1.5 HELIO" in out
    with pytest.raises(ConfigError, match="less than the"):
        run("wallet", "transfer", other, "1000000000000", "--dev-account", "8")
    with pytest.raises(ConfigError, match="not an address"):
        run("wallet", "transfer", "0x123", "1", "--dev-account", "8")


def test_stake_by_identity_registers_the_peer_id_serve_will_use(run, chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "node.key"
    peer_id = run("node", "identity", str(key_file)).strip()
    assert key_file.is_file() and run("node", "identity", str(key_file)).strip() == peer_id
    out = run("stake", "1000", "--identity", str(key_file), "--dev-account", "6")
    view = _chain(chain)
    me = DEV_ACCOUNTS[6].address
    assert view.staking.node_of(me).peer_id == peer_id and "own stake 1000 HELIO" in out
    # another node's id is refused, not half-registered
    with pytest.raises(ConfigError, match=f"registered as {peer_id}"):
        run("stake", "1", "--peer-id", "QmNU7EMHLrDXXWSSotLgxX5tu6gfv1eyprsEzwk7HwjyAQ", "--dev-account", "6")
    with pytest.raises(ConfigError, match="not a libp2p peer id"):
        run("stake", "1", "--peer-id", "12D3KooWnot-a-real-one", "--dev-account", "7")
    # an empty wallet: refused before registering (no half-done registration)
    broke = Account.create()
    with pytest.raises(ConfigError, match="get HELIO first"):
        run("stake", "1000", "--identity", str(key_file), env={"HELIO_PRIVATE_KEY": broke.key.hex()})
    assert view.staking.node_of(broke.address).registered_at == 0


def test_status_mine_shows_stake_unbonding_with_dates_and_jail(run, chain) -> None:  # type: ignore[no-untyped-def]
    run("stake", "1200", "--peer-id", "QmbnHB5HZcfhaNLXdiRru4CcmL6GxoZbcjENyeTB2EPzky", "--dev-account", "5")
    out = run("unstake", "200", "--dev-account", "5")
    assert re.search("withdrawable from " + DATE, out), out
    status = json.loads(run("status", "--mine", "--json", "--dev-account", "5").strip().splitlines()[-1])
    assert status["own_stake_wei"] == str(1000 * HELIO) and status["unbonding_wei"] == str(200 * HELIO)
    assert status["active"] is True and status["jailed"] is False and not status["withdrawable_now"]
    assert re.match(DATE, status["withdrawable_at"]["text"])
    text = run("status", "--mine", "--dev-account", "5")
    assert "own 1000 HELIO" in text and re.search("withdrawable from " + DATE, text), text
    assert "jailed: no" in text
    # by address, without a key
    other = json.loads(run("status", "--mine", "--json", "--address", DEV_ACCOUNTS[5].address).splitlines()[-1])
    assert other["own_stake_wei"] == status["own_stake_wei"]


def test_serve_never_rebonds_after_unstake_and_bonds_what_it_is_told(run, chain) -> None:  # type: ignore[no-untyped-def]
    from node.cli.chain_access import chain_target
    from node.cli.serve_chain import stake_plan

    target = chain_target("local", chain[0])
    key = DEV_ACCOUNTS[9].private_key
    view = _chain(chain)
    minimum = view.staking.min_stake()
    assert stake_plan(target, key, None) == minimum  # local dev chain, never staked: the minimum, said
    assert stake_plan(target, key, "1500") == 1500 * HELIO
    with pytest.raises(ConfigError, match="below the minimum"):
        stake_plan(target, key, "0.5")
    run("stake", str(minimum // HELIO), "--peer-id", "QmY9YiQTmARCTjueahHXHciD3ncp1DoAsydqgdhLdeiTiB",
        "--dev-account", "9")
    assert stake_plan(target, key, None) is None  # staked: nothing more
    run("unstake", str(minimum // HELIO), "--dev-account", "9")
    with pytest.raises(ConfigError, match="you unstaked .* never bonds again by itself"):
        stake_plan(target, key, None)
    assert stake_plan(target, key, str(minimum // HELIO)) == minimum  # explicit: fine


def test_a_network_on_another_chain_fails_fast_naming_the_flag(run, chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--network local` (chain 31337) against an RPC of chain 11155111: refused before any
    fetch or p2p start, naming --network and --rpc-url."""
    with Anvil(chain_id=11155111) as other:
        with pytest.raises(HeliomeshError, match=r"--network local is deployed on chain id 31337, but "
                                                 r"--rpc-url .* is chain id 11155111"):
            run("wallet", "balance", "--rpc-url", other.rpc_url, "--dev-account", "1")
        with pytest.raises(HeliomeshError, match="--network local is deployed on chain id 31337"):
            run("node", "serve", "--model-dir", str(tmp_path), "--rpc-url", other.rpc_url,
                "--private-key", Account.create().key.hex())
        # `helio gateway` reads HELIO_RPC_URL like every command (it ignored it: chain-less)
        from node.cli.main import _add_plugins

        _add_plugins()
        with pytest.raises(HeliomeshError, match="--network local is deployed on chain id 31337"):
            run("gateway", env={"HELIO_RPC_URL": other.rpc_url})
    with pytest.raises(ConfigError, match="--network nowhere: .*deployments here: local"):
        run("wallet", "balance", "--network", "nowhere", "--dev-account", "1")


def test_wallet_balance_needs_no_flags_while_the_demo_runs(
        run, chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """What `make demo` writes (scripts/demo.py write_cli_settings) is what the CLI reads."""
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
    from demo import DEMO_WALLET, write_cli_settings

    monkeypatch.delenv("HELIO_RPC_URL")
    monkeypatch.setenv("HELIO_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="no chain: give --rpc-url"):
        run("wallet", "balance")
    demo = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(os, "getpid", lambda: demo.pid)  # the file names the demo's process
    try:
        write_cli_settings(chain[0])
        out = run("wallet", "balance")
    finally:
        demo.kill()
        demo.wait()
    assert DEV_ACCOUNTS[DEMO_WALLET].address in out and "HELIO in the wallet" in out
