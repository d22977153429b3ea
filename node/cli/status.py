"""``helio status``: the live servers of a model, read from the DHT."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from node.cli.stake import DevAccount, Network, open_chain
from node.cli.swarm_common import InitialPeers, initial_peers, quiet_hivemind
from node.core.errors import ConfigError

if TYPE_CHECKING:
    from node.swarm.records import ServerRecord

console = Console()


def status(
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="model id"),
    num_blocks: int = typer.Option(None, "--num-blocks", help="the model's block count (default: from the cached manifest, else the highest announced)"),
    peers: list[str] = InitialPeers,
    rpc_url: str = typer.Option(None, "--rpc-url", help="check the energy reports against this chain's "
                                "EnergyAttestations domain and registered keys (default: HELIO_RPC_URL; "
                                "without one, reports must be signed by the inferer's own address)"),
    network: str = Network,
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    mine: bool = typer.Option(False, "--mine", help="your own node on the chain: stake, unbonding "
                              "with dates, jailed, rewards (key: HELIO_PRIVATE_KEY or --dev-account)"),
    address: str = typer.Option(None, "--address", help="--mine for this address instead of your key's"),
    gateway: str = typer.Option(None, "--gateway", help="--mine: also the contribution rewards this "
                                "gateway's closed epochs owe you"),
    dev_account: int = DevAccount,
) -> None:
    """List live servers, the blocks each covers, gaps in coverage, throughput, state and
    verified energy (headroom, battery, sessions/capacity); with --mine, your own stake."""
    if mine:
        _mine(network, rpc_url, dev_account, address, gateway, as_json)
        return
    quiet_hivemind()
    from hivemind.utils import get_dht_time

    from node.chain.reverts import helio
    from node.client.swarm_client import swarm_client
    from node.core.settings import load_settings
    from node.swarm.dht import coverage
    from node.swarm.errors import block_ranges

    found = initial_peers(peers)
    if not found:
        raise ConfigError("give --initial-peers (the bootstrap's multiaddr) or set HELIO_INITIAL_PEERS")
    total = num_blocks or _cached_num_blocks(model)
    chain = open_chain(network, rpc_url, None, signing=False) if rpc_url or load_settings().rpc_url else None
    with swarm_client(found, chain=chain) as client:
        records = client.records(model, total or 4096)
        claims = {c.inferer.lower(): c for c in client.energy.observe(records.values())}
        rejected = dict(client.energy.rejected)
    if not total:
        total = max((r.end for r in records.values()), default=0)
    now = get_dht_time()
    rows = sorted(records.values(), key=lambda r: (r.start, r.end, r.peer_id))
    covered = coverage(records, total) if total else []
    gaps = [b for b, who in enumerate(covered) if not who]

    def energy_of(r: ServerRecord) -> dict[str, Any] | None:
        """The record's energy report: verified (the claim), or why it was not trusted."""
        if r.energy is None:
            return None
        claim = claims.get(r.address.lower())
        if claim is None:
            return {"verified": False, "why": rejected.get(r.peer_id, "not verified")}
        return {"verified": True, **claim.as_dict()}

    stakes = _stakes(chain, rows)  # with a chain: each server's own + delegated stake, wei
    standing = _standing(chain, rows)  # with a chain: "jailed" / "claim open" / ""
    if as_json:
        print(json.dumps({
            "model": model, "num_blocks": total, "gaps": gaps,
            "servers": [{**r.model_dump(mode="json"), "age_s": round(now - r.timestamp, 1),
                         "energy": energy_of(r), "stake_wei": stakes.get(r.address),
                         "standing": standing.get(r.address)} for r in rows],
        }))
        return
    table = Table(title=f"{model}: {len(rows)} servers, {total} blocks")
    for column in ("peer", "state", "blocks", "tokens/s", "sessions", "cache left", "energy", "address",
                   "stake", "age", "version"):
        table.add_column(column)
    for r in rows:
        stake = stakes.get(r.address)
        table.add_row(r.peer_id[-10:], r.state.value, f"{r.start}:{r.end}", f"{r.throughput:.1f}",
                      str(r.sessions), str(r.cache_tokens_left), _energy_cell(energy_of(r)),
                      r.address[:10] + "…", ("-" if stake is None else helio(int(stake)))
                      + (f" [bold red]{standing[r.address]}[/]" if standing.get(r.address) else ""),
                      f"{now - r.timestamp:.0f}s", r.software_version + (" relayed" if r.relayed else ""))
    console.print(table)
    if total:
        console.print("coverage: " + " ".join(str(len(who)) for who in covered))
        console.print(f"[bold red]gaps: blocks {block_ranges(gaps)}[/]" if gaps else "[green]no gaps: every block is served[/]")


def _stakes(chain: Any, rows: list[ServerRecord]) -> dict[str, str]:
    """Own + delegated stake of each server's address (none without a chain)."""
    if chain is None:
        return {}
    out = {}
    for address in {r.address for r in rows}:
        with contextlib.suppress(Exception):  # a bad address in a record: no stake shown
            stake = chain.staking.stake_of(address)
            out[address] = str(stake.self_stake + stake.delegated_stake)
    return out


def _standing(chain: Any, rows: list[ServerRecord]) -> dict[str, str]:
    """Each server's standing with the Verification contract: jailed after a slash, or under
    an open fraud claim (its stake frozen); "" when in good standing."""
    if chain is None:
        return {}
    out = {}
    for address in {r.address for r in rows}:
        with contextlib.suppress(Exception):  # an older deployment without the views
            out[address] = ("jailed" if chain.staking.is_jailed(address)
                            else "claim open" if chain.staking.is_frozen(address) else "")
    return out


def _energy_cell(energy: dict[str, Any] | None) -> str:
    if energy is None:
        return "-"
    if not energy["verified"]:
        return f"[yellow]unverified[/]: {energy['why'][:60]}"
    battery = "" if energy["battery_soc"] is None else f", battery {energy['battery_soc']:.0%}"
    return (f"{energy['state']}, {energy['headroom_w']:.0f} W{battery}, "
            f"{energy['sessions']}/{energy['capacity']} sessions")


def _cached_num_blocks(model: str) -> int | None:
    from node.core.manifest import Manifest
    from node.core.settings import Settings

    for directory in sorted((Settings().models_dir / model).glob("*")):
        try:
            return Manifest.load(directory).num_blocks
        except Exception:
            continue
    return None


def _mine(network: str | None, rpc_url: str | None, dev_account: int | None, address: str | None,
          gateway: str | None, as_json: bool) -> None:
    from web3 import Web3

    from node.cli.status_mine import my_status, render

    chain = open_chain(network, rpc_url, dev_account, signing=address is None)
    if address is not None and not Web3.is_address(address):
        raise ConfigError(f"--address {address!r} is not an address (0x followed by 40 hex digits)")
    who = Web3.to_checksum_address(address) if address else chain.account.address  # type: ignore[union-attr]
    status = my_status(chain, who, gateway)
    if as_json:
        print(json.dumps(status))
        return
    for line in render(status):
        console.print(line)
