"""``helio stake|unstake|withdraw``: an inferer's own stake in StakingRegistry.

    helio node identity ~/.helio/node.key      # creates the node's key file, prints its peer id
    helio stake 1000 --identity ~/.helio/node.key --rpc-url http://127.0.0.1:8545 --dev-account 1
    helio unstake 500 ...            # starts the unbonding delay
    helio withdraw ...               # after the delay

The signing key is HELIO_PRIVATE_KEY, or ``--dev-account N`` (anvil's PUBLIC dev key N,
local chain only). Amounts are in HELIO (decimals allowed).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from node.cli.chain_access import open_chain as open_chain  # re-exported (wallet, model, join)
from node.core.errors import ConfigError
from node.core.settings import load_settings

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


IdentityFile = typer.Option(
    None, "--identity", help="the node's libp2p key file (`node serve --identity`): its peer id is registered"
)


def stake(
    amount: str = typer.Argument(..., help="HELIO to bond in addition to the current stake"),
    identity: Path = IdentityFile,
    peer_id: str = typer.Option(
        None, "--peer-id", help="libp2p peer id, instead of --identity"
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
    """Bond AMOUNT more HELIO for your node; the first time, register it by its identity
    (the peer id of `--identity FILE`, which `helio node serve --identity FILE` then uses)."""
    from node.chain.reverts import helio

    wanted = _peer_id(identity or load_settings().identity, peer_id)
    chain = open_chain(network, rpc_url, dev_account)
    staking, me = chain.staking, chain.account.address  # type: ignore[union-attr]
    wei = to_wei(amount)
    balance = chain.token.balance_of(me)
    if balance < wei:  # checked before registering: never a half-done registration
        raise ConfigError(f"{me} holds {helio(balance)}, less than the {helio(wei)} to bond: "
                          "get HELIO first (`helio wallet faucet`, or a `helio wallet transfer` to you)")
    node = staking.node_of(me)
    if node.registered_at == 0:
        if wanted is None:
            raise ConfigError("the first stake registers the node: give --identity FILE "
                              "(`helio node identity FILE` creates one) or --peer-id")
        staking.register(wanted, attestation_key or me, region, capacity)
        console.print(f"registered {me} as {wanted}")
    elif wanted is not None and wanted != node.peer_id:
        raise ConfigError(f"{me} is registered as {node.peer_id}, not {wanted}: serve with that "
                          "identity, or `helio node serve --identity` re-registers the new one")
    staking.stake(wei)
    own = staking.stake_of(me).self_stake
    console.print(
        f"[green]staked[/] {helio(wei)}; own stake {helio(own)}, active: {staking.is_active(me)}"
    )


def _peer_id(identity: Path | None, peer_id: str | None) -> str | None:
    if identity is not None and peer_id is not None:
        raise ConfigError("give --identity or --peer-id, not both")
    if identity is not None:
        from node.swarm.identity import peer_id_of

        return peer_id_of(identity)
    if peer_id is not None:
        from hivemind.p2p import PeerID

        try:
            PeerID.from_base58(peer_id)
        except Exception:
            raise ConfigError(f"--peer-id {peer_id!r} is not a libp2p peer id (12D3KooW…/Qm…)") from None
    return peer_id


def unstake(
    amount: str = typer.Argument(..., help="HELIO to start unbonding"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Start unbonding AMOUNT of the own stake; withdraw after the unbonding delay."""
    from node.chain.reverts import helio, when

    chain = open_chain(network, rpc_url, dev_account)
    chain.staking.request_unstake(to_wei(amount))
    total, release_at = chain.staking.unbonding_of(chain.account.address)  # type: ignore[union-attr]
    console.print(f"unbonding {helio(total)}, withdrawable from {when(release_at, _now(chain))} "
                  "(`helio withdraw` then); `helio node serve` does not bond it again by itself")


def withdraw(network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount) -> None:
    """Send the unbonded stake back to this account."""
    from node.chain.reverts import helio

    chain = open_chain(network, rpc_url, dev_account)
    total, _ = chain.staking.unbonding_of(chain.account.address)  # type: ignore[union-attr]
    chain.staking.withdraw()  # too early or nothing there: the revert says when, in words
    console.print(f"[green]withdrew[/] {helio(total)}")


def _now(chain: HelioChain) -> int:
    """The chain's time (what the contracts compare with; a test chain may be warped)."""
    return int(chain.w3.eth.get_block("latest")["timestamp"])
