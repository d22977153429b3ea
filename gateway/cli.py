"""``helio gateway``: serve the OpenAI-compatible API, the web chat and the dashboard.

Declared in pyproject.toml under ``[project.entry-points."heliomesh.cli"]`` so the
``helio`` command (in ``node``, which never imports ``gateway``) picks it up.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)

app = typer.Typer(help="The gateway: OpenAI-compatible API, web chat and swarm dashboard.",
                  invoke_without_command=True, no_args_is_help=False)


@app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="bind address (default 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="port (default 8000; 0 = any free port)"),
    models: Annotated[list[str] | None, typer.Option("--model", "-m", help="model id to serve (repeatable)")] = None,
    dtype: str = typer.Option(None, "--dtype", help="converted dtype: fp32, bf16, fp16"),
    spans: int = typer.Option(1, "--spans", help="in-process spans per model"),
    rpc_url: str = typer.Option(None, "--rpc-url", help="chain RPC (payments, stake, adoption)"),
    network: str = typer.Option("local", "--network", help="deployments/<network>.json to use"),
    peers: Annotated[list[str] | None, typer.Option(
        "--initial-peers", "-p", help="serve through the swarm (a bootstrap multiaddr; repeatable; "
        "default $HELIO_INITIAL_PEERS); without it the blocks run in-process")] = None,
) -> None:
    """Load the models, connect the chain if given, and serve until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from gateway.app import create_app
    from gateway.chain_link import ChainLink
    from gateway.served_model import load_served_model
    from gateway.settings import GatewaySettings
    from gateway.state import build_gateway
    from node.core.settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port, "models": models or None,
                                                   "dtype": dtype}.items() if v is not None}
    settings = GatewaySettings(**overrides)
    chain = ChainLink.connect(rpc_url, network) if rpc_url else None
    found = [p for item in peers or [] for p in item.split(",") if p.strip()]
    if not found and (env := os.environ.get("HELIO_INITIAL_PEERS")):
        found = [p.strip() for p in env.split(",") if p.strip()]
    swarm = None
    try:
        if found:
            from gateway.swarm_view import SwarmDhtView, swarm_served_model
            from node.client.swarm_client import swarm_client
            from node.models.convert import convert_model

            # With a chain: staked inferers only, commitments and energy reports checked
            # under the deployed contracts' domains and registered keys.
            full = chain is not None and all(chain.has(c) for c in (
                "StakingRegistry", "EnergyAttestations", "Verification"))
            swarm = swarm_client(found, chain=chain.helio() if full and chain is not None else None)
            served = {m: swarm_served_model(swarm, m, convert_model(
                m, settings.dtype, Settings().cache_dir, progress=False).model_dir) for m in settings.models}
        else:
            served = {m: load_served_model(m, settings.dtype, Settings().cache_dir, spans)
                      for m in settings.models}
        gateway = build_gateway(settings, served, chain)
        if swarm is not None:
            gateway.swarm_view = SwarmDhtView(swarm)
        where = f"the swarm ({len(found)} initial peer(s))" if found else "in-process spans"
        typer.echo(f"gateway on http://{settings.host}:{settings.port} over {where} "
                   "(web chat and dashboard at /, API at /v1)")
        uvicorn.run(create_app(gateway), host=settings.host, port=settings.port, log_level="warning")
    finally:
        if swarm is not None:
            swarm.close()


@app.command()
def bench(
    requests: int = typer.Option(16, "--requests", help="requests per measurement"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object as the last line"),
) -> None:
    """Gateway vs the client library in one run: added latency, requests/s, rate-limit accuracy."""
    from gateway.bench import main as bench_main

    bench_main(requests, as_json)
