"""Anvil's public dev keys sign only on the local chain (31337): one check
(``node.chain.devkeys.refuse_dev_key``) refuses them everywhere else — in ``deploy_all``,
``helio node serve --dev-key`` and the gateway — tried against a real anvil started
with another chain id (a stand-in for a public testnet)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from gateway.settings import GatewaySettings
from gateway.state import build_gateway
from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS, is_dev_key, refuse_dev_key
from node.cli.main import app
from node.core.errors import ConfigError

pytestmark = pytest.mark.chain
TESTNET = 11155111  # Sepolia's chain id


@pytest.fixture(scope="module")
def testnet() -> Iterator[Anvil]:
    with Anvil(chain_id=TESTNET) as anvil:
        yield anvil


def test_dev_keys_pass_on_the_local_chain_only() -> None:
    key = DEV_ACCOUNTS[3].private_key
    assert is_dev_key(key) and is_dev_key(key.removeprefix("0x").upper())
    refuse_dev_key(key, ANVIL_CHAIN_ID, "a key")  # fine on anvil
    refuse_dev_key("0x" + "11" * 32, TESTNET, "a key")  # not a dev key: fine anywhere
    refuse_dev_key(None, TESTNET, "a key")
    with pytest.raises(ConfigError, match=rf"public dev keys.*chain id is {TESTNET}"):
        refuse_dev_key(key, TESTNET, "a key")


def test_deploy_refuses_a_dev_key_off_the_local_chain(testnet: Anvil, tmp_path: Path) -> None:
    ensure_compiled()
    w3 = connect(testnet.rpc_url, expected_chain_id=TESTNET)
    with pytest.raises(ConfigError, match="the deployer key.*public dev accounts"):
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "sepolia", directory=tmp_path)
    assert not (tmp_path / "sepolia.json").exists()


def test_node_serve_refuses_a_dev_key_off_the_local_chain(testnet: Anvil, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # no project settings file in the way
    result = CliRunner().invoke(app, ["node", "serve", "--dev-key", "1", "--rpc-url", testnet.rpc_url,
                                      "--model", "smollm2-135m-instruct"])  # fmt: skip
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) or "public dev keys" in result.output, (
        result.output
    )
    message = str(result.exception) if result.exception else result.output
    assert "public dev keys" in message and str(TESTNET) in message


def test_gateway_refuses_dev_keys_off_the_local_chain() -> None:
    # Only the chain id of the link is read before the refusal (no contract is needed).
    link = SimpleNamespace(deployment=SimpleNamespace(chain_id=TESTNET))
    for settings in (GatewaySettings(payee_key=DEV_ACCOUNTS[1].private_key),
                     GatewaySettings(payee_key="0x" + "22" * 32, referee_key=DEV_ACCOUNTS[0].private_key)):  # fmt: skip
        with pytest.raises(ConfigError, match="public dev keys"):
            build_gateway(settings, {}, link)  # type: ignore[arg-type]
