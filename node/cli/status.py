"""``helio status``: the live servers of a model, read from the DHT."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from node.cli.swarm_common import InitialPeers, initial_peers, quiet_hivemind
from node.core.errors import ConfigError

console = Console()


def status(
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="model id"),
    num_blocks: int = typer.Option(None, "--num-blocks", help="the model's block count (default: from the cached manifest, else the highest announced)"),
    peers: list[str] = InitialPeers,
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """List live servers, the blocks each covers, gaps in coverage, throughput and state."""
    quiet_hivemind()
    from hivemind.utils import get_dht_time

    from node.client.swarm_route import SwarmClient
    from node.swarm.dht import coverage
    from node.swarm.errors import block_ranges

    found = initial_peers(peers)
    if not found:
        raise ConfigError("give --initial-peers (the bootstrap's multiaddr) or set HELIO_INITIAL_PEERS")
    total = num_blocks or _cached_num_blocks(model)
    with SwarmClient(found) as client:
        records = client.records(model, total or 4096)
    if not total:
        total = max((r.end for r in records.values()), default=0)
    now = get_dht_time()
    rows = sorted(records.values(), key=lambda r: (r.start, r.end, r.peer_id))
    covered = coverage(records, total) if total else []
    gaps = [b for b, who in enumerate(covered) if not who]
    if as_json:
        print(json.dumps({
            "model": model, "num_blocks": total, "gaps": gaps,
            "servers": [{**r.model_dump(mode="json"), "age_s": round(now - r.timestamp, 1)} for r in rows],
        }))
        return
    table = Table(title=f"{model}: {len(rows)} servers, {total} blocks")
    for column in ("peer", "state", "blocks", "tokens/s", "sessions", "cache left", "address", "age", "version"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.peer_id[-10:], r.state.value, f"{r.start}:{r.end}", f"{r.throughput:.1f}",
                      str(r.sessions), str(r.cache_tokens_left), r.address[:10] + "…",
                      f"{now - r.timestamp:.0f}s", r.software_version + (" relayed" if r.relayed else ""))
    console.print(table)
    if total:
        console.print("coverage: " + " ".join(str(len(who)) for who in covered))
        console.print(f"[bold red]gaps: blocks {block_ranges(gaps)}[/]" if gaps else "[green]no gaps: every block is served[/]")


def _cached_num_blocks(model: str) -> int | None:
    from node.core.manifest import Manifest
    from node.core.settings import Settings

    for directory in sorted((Settings().models_dir / model).glob("*")):
        try:
            return Manifest.load(directory).num_blocks
        except Exception:
            continue
    return None
