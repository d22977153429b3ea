"""``helio stake|unstake|withdraw``: an inferer's own stake in StakingRegistry.

    helio stake 1000 --peer-id 12D3KooW... --rpc-url http://127.0.0.1:8545 --dev-account 1
    helio unstake 500 ...            # starts the unbonding delay
    helio withdraw ...               # after the delay

The signing key is HELIO_PRIVATE_KEY, or ``--dev-account N`` (anvil's PUBLIC dev key N,
local chain only). Amounts are in HELIO (decimals allowed).
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from node.core.errors import ConfigError
from node.core.paths import DEPLOYMENTS_DIR

if TYPE_CHECKING:
    from node.chain.bindings import HelioChain

console = Console()

Network = typer.Option(
    None, "--network", help="deployments/<network>.json (default: HELIO_NETWORK or local)"
)
RpcUrl = typer.Option(None, "--rpc-url", help="JSON-RPC URL (default: HELIO_RPC_URL)")
DevAccount = typer.Option(
    None, "--dev-account", help="use anvil's public dev key N (local chain only)"
)
HELIO_DECIMALS = 18


def to_wei(amount: str) -> int:
    """``"1.5"`` HELIO -> wei; ``ConfigError`` for anything but a positive number."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ConfigError(f"amount {amount!r} is not a number of HELIO") from None
    wei = value * 10**HELIO_DECIMALS
    if value <= 0 or wei != wei.to_integral_value():
        raise ConfigError(f"amount {amount!r} must be positive with at most 18 decimals")
    return int(wei)


def from_wei(wei: int) -> str:
    return f"{Decimal(wei) / 10**HELIO_DECIMALS:f}"


def open_chain(
    network: str | None, rpc_url: str | None, dev_account: int | None, *, signing: bool = True
) -> HelioChain:
    """``HelioChain`` for the deployment of ``network`` with the chosen signing key."""
    from node.chain.bindings import HelioChain
    from node.chain.connect import connect, local_account
    from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
    from node.core.settings import Settings

    settings = Settings()
    name = network or settings.network
    url = rpc_url or settings.rpc_url
    if not url:
        raise ConfigError("give --rpc-url or set HELIO_RPC_URL (the chain to talk to)")
    w3 = connect(url, expected_chain_id=settings.chain_id)
    account = None
    if dev_account is not None:
        if w3.eth.chain_id != ANVIL_CHAIN_ID or not 0 <= dev_account < len(DEV_ACCOUNTS):
            raise ConfigError(
                f"--dev-account takes 0..{len(DEV_ACCOUNTS) - 1}, on the local chain only"
            )
        account = local_account(DEV_ACCOUNTS[dev_account].private_key)
    elif settings.private_key is not None:
        account = local_account(settings.private_key)
    elif signing:
        raise ConfigError("set HELIO_PRIVATE_KEY (or --dev-account N on the local chain) to sign")
    # HELIO_DEPLOYMENTS_DIR points at another deployments/ folder (tests, several chains).
    directory = os.environ.get("HELIO_DEPLOYMENTS_DIR")
    return HelioChain.open(w3, name, account, Path(directory) if directory else DEPLOYMENTS_DIR)


def stake(
    amount: str = typer.Argument(..., help="HELIO to bond in addition to the current stake"),
    peer_id: str = typer.Option(
        None, "--peer-id", help="libp2p peer id (needed on first registration)"
    ),
    attestation_key: str = typer.Option(
        None, "--attestation-key", help="address signing energy reports (default: this key)"
    ),
    region: str = typer.Option("", "--region", help="IANA time zone, e.g. Europe/Berlin"),
    capacity: int = typer.Option(0, "--capacity", help="declared capacity, tokens/s"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Register the node (first time) and bond AMOUNT more HELIO."""
    chain = open_chain(network, rpc_url, dev_account)
    staking, me = chain.staking, chain.account.address  # type: ignore[union-attr]
    wei = to_wei(amount)
    if staking.node_of(me).registered_at == 0:
        if not peer_id:
            raise ConfigError("first stake registers the node: give --peer-id (its libp2p id)")
        staking.register(peer_id, attestation_key or me, region, capacity)
        console.print(f"registered {me} as {peer_id}")
    staking.stake(wei)
    own = staking.stake_of(me).self_stake
    console.print(
        f"[green]staked[/] {amount} HELIO; own stake {from_wei(own)} HELIO, active: {staking.is_active(me)}"
    )


def unstake(
    amount: str = typer.Argument(..., help="HELIO to start unbonding"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Start unbonding AMOUNT of the own stake; withdraw after the unbonding delay."""
    chain = open_chain(network, rpc_url, dev_account)
    chain.staking.request_unstake(to_wei(amount))
    total, release_at = chain.staking.unbonding_of(chain.account.address)  # type: ignore[union-attr]
    console.print(f"unbonding {from_wei(total)} HELIO, withdrawable from unix time {release_at}")


def withdraw(network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount) -> None:
    """Send the unbonded stake back to this account."""
    chain = open_chain(network, rpc_url, dev_account)
    total, _ = chain.staking.unbonding_of(chain.account.address)  # type: ignore[union-attr]
    chain.staking.withdraw()
    console.print(f"[green]withdrew[/] {from_wei(total)} HELIO")
