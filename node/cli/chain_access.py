"""Reaching the chain from a command, the same way for every command.

``chain_target(network, rpc_url)`` resolves the RPC URL, the network and the deployments
folder through ``load_settings`` (flags > HELIO_* > .env > TOML > a running demo), then
checks, before anything slow starts (an IPFS fetch, p2pd), that the RPC answers and is
the chain ``deployments/<network>.json`` was deployed on; a mismatch names the flag to
fix. ``open_chain`` adds the signing account and returns a ``HelioChain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from node.core.errors import ConfigError
from node.core.paths import DEPLOYMENTS_DIR
from node.core.settings import Settings, load_settings, settings_sources

if TYPE_CHECKING:
    from web3 import Web3

    from node.chain.bindings import HelioChain
    from node.chain.deployment import Deployment


@dataclass(frozen=True)
class ChainTarget:
    settings: Settings
    rpc_url: str
    network: str
    deployments_dir: Path
    w3: Web3
    deployment: Deployment


def _from_where() -> str:
    files = settings_sources()
    return f" (settings read from {', '.join(files)})" if files else ""


def chain_target(network: str | None, rpc_url: str | None, *, settings: Settings | None = None) -> ChainTarget:
    """The checked chain of ``--network``/``--rpc-url`` (or their settings)."""
    from node.chain.connect import connect, redact_url
    from node.chain.deployment import Deployment
    from node.core.errors import ChainError

    settings = settings or load_settings(network=network, rpc_url=rpc_url)
    url = settings.rpc_url
    if not url:
        raise ConfigError("no chain: give --rpc-url URL (or HELIO_RPC_URL, or rpc_url in "
                          "heliomesh.toml)" + _from_where())
    directory = settings.deployments_dir or DEPLOYMENTS_DIR
    name = settings.network
    try:
        deployment = Deployment.load(name, directory)
    except ChainError as exc:
        known = sorted(p.stem for p in directory.glob("*.json"))
        raise ConfigError(f"--network {name}: {exc}" + (
            f"; deployments here: {', '.join(known)}" if known else "") + _from_where()) from None
    try:
        w3 = connect(url)
    except ChainError as exc:
        raise ConfigError(f"--rpc-url: {exc}" + _from_where()) from None
    actual = w3.eth.chain_id
    if settings.chain_id is not None and actual != settings.chain_id:
        raise ConfigError(f"--rpc-url {redact_url(url)} is chain id {actual}, but HELIO_CHAIN_ID "
                          f"says {settings.chain_id}: fix one of them" + _from_where())
    if actual != deployment.chain_id:
        fits = [p.stem for p in sorted(directory.glob("*.json")) if _chain_id_of(p) == actual]
        hint = f"--network {' or '.join(fits)}" if fits else "the --network deployed on it"
        raise ConfigError(
            f"--network {name} is deployed on chain id {deployment.chain_id}, but --rpc-url "
            f"{redact_url(url)} is chain id {actual}: give {hint}, or the --rpc-url of "
            f"chain {deployment.chain_id}" + _from_where())
    return ChainTarget(settings, url, name, directory, w3, deployment)


def _chain_id_of(path: Path) -> int | None:
    import json

    try:
        return int(json.loads(path.read_text())["chain_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def open_chain(network: str | None, rpc_url: str | None, dev_account: int | None, *,
               signing: bool = True) -> HelioChain:
    """``HelioChain`` for the deployment of ``network`` with the chosen signing key:
    ``--dev-account N`` (anvil's PUBLIC dev key, local chain only) or HELIO_PRIVATE_KEY."""
    from node.chain.bindings import HelioChain
    from node.chain.connect import local_account
    from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS

    target = chain_target(network, rpc_url)
    account = None
    if dev_account is not None:
        if target.deployment.chain_id != ANVIL_CHAIN_ID or not 0 <= dev_account < len(DEV_ACCOUNTS):
            raise ConfigError(
                f"--dev-account takes 0..{len(DEV_ACCOUNTS) - 1}, on the local chain only"
            )
        account = local_account(DEV_ACCOUNTS[dev_account].private_key)
    elif target.settings.private_key is not None:
        account = local_account(target.settings.private_key)
    elif signing:
        raise ConfigError("set HELIO_PRIVATE_KEY (or private_key in heliomesh.toml; or "
                          "--dev-account N on the local chain) to sign")
    return HelioChain.open(target.w3, target.network, account, target.deployments_dir)
