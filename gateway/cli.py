"""``helio gateway``: serve the OpenAI-compatible API, the web chat and the dashboard.

Declared in pyproject.toml under ``[project.entry-points."heliomesh.cli"]`` so the
``helio`` command (in ``node``, which never imports ``gateway``) picks it up.
"""

from __future__ import annotations

import logging
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
    rpc_url: str = typer.Option(None, "--rpc-url", help="chain RPC (payments, stake, adoption; "
                                "default: HELIO_RPC_URL / rpc_url in the settings)"),
    network: str = typer.Option(None, "--network", help="deployments/<network>.json to use "
                                "(default: HELIO_NETWORK, else local)"),
    peers: Annotated[list[str] | None, typer.Option(
        "--initial-peers", "-p", help="serve through the swarm (a bootstrap multiaddr; repeatable; "
        "default $HELIO_INITIAL_PEERS); without it the blocks run in-process")] = None,
    ipfs_peers: Annotated[list[str] | None, typer.Option(
        "--ipfs-peer", envvar="HELIO_IPFS_PEERS", help="with --rpc-url and a swarm: an IPFS node "
        "(…/p2p/<id>, e.g. the model creator's `helio model publish --serve`) to fetch the client "
        "files of newly adopted models from; repeatable")] = None,
) -> None:
    """Load the models, connect the chain if given, and serve until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from gateway.app import create_app
    from gateway.served_model import load_served_model
    from gateway.settings import GatewaySettings
    from gateway.state import build_gateway
    from node.core.settings import Settings, load_settings

    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port, "models": models or None,
                                                   "dtype": dtype}.items() if v is not None}
    settings = GatewaySettings(**overrides)
    # One way to read the chain and the swarm, as every helio command (node/core/settings.py);
    # a wrong chain fails here, naming the flag, before any model loads.
    node_settings = load_settings(rpc_url=rpc_url, network=network, initial_peers=peers or None)
    chain = _chain(node_settings)
    found = node_settings.initial_peers
    swarm = None
    discovery = None
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
            if chain is not None and chain.has("ModelRegistry"):
                discovery = _discover_models(gateway, swarm, chain, ipfs_peers or [])
            if settings.spot_check_rate > 0:
                _embed_referee(gateway, swarm, chain)
        where = f"the swarm ({len(found)} initial peer(s))" if found else "in-process spans"
        typer.echo(f"gateway on http://{settings.host}:{settings.port} over {where} "
                   "(web chat and dashboard at /, API at /v1)")
        uvicorn.run(create_app(gateway), host=settings.host, port=settings.port, log_level="warning")
    finally:
        if discovery is not None:
            discovery.stop()
            discovery.store.close()
        if swarm is not None:
            swarm.close()


def _embed_referee(gateway: Any, swarm: Any, chain: Any) -> None:
    """Spot-check the swarm's answers after they are returned (node/client/audit.py). With
    a chain the results go on-chain as the referee key when it is a verifier (VERIFIER_ROLE
    and active stake, what Verification.isVerifier requires of every post; else they stay
    local and say so), and an inferer under an open claim earns nothing in the contribution
    epochs until the claim is settled (nothing at all once slashed)."""
    from eth_account import Account

    from node.client.audit import embed_referee
    from node.referee.epochs import referee_key

    helio = None
    if chain is not None and chain.has("Verification") and chain.has("StakingRegistry"):
        key = referee_key(gateway.settings.referee_key, chain.deployment.chain_id)
        account = Account.from_key(key) if key else None
        verification = chain.helio().verification.c
        if account is not None and verification.functions.isVerifier(account.address).call():
            helio = chain.helio(account)
        else:
            log.warning("the referee key is no verifier (VERIFIER_ROLE and active stake): "
                        "spot-checks stay local (set HELIO_GATEWAY_REFEREE_KEY to a staked "
                        "verifier's key)")
        staking = chain.helio().staking
        gateway.accounting.disputed = staking.is_frozen
        gateway.accounting.slashed = staking.is_jailed
    embed_referee(swarm, chain=helio, rate=gateway.settings.spot_check_rate)
    log.info("referee: spot-checking %.1f %% of answers%s", 100 * gateway.settings.spot_check_rate,
             " (results on-chain)" if helio is not None else "")


def _discover_models(gateway: Any, swarm: Any, chain: Any, ipfs_peers: list[str]) -> Any:
    """Serve models adopted while the gateway runs (gateway/model_discovery.py)."""
    from gateway.model_discovery import ModelDiscovery
    from node.core.settings import Settings
    from node.ipfs import open_store

    cache_dir = Settings().cache_dir
    # a repo per port: two gateways on one machine cannot share a Kubo repo
    repo = cache_dir / f"ipfs-gateway-{gateway.settings.port}"
    store = open_store("embedded", data_dir=repo, peering=ipfs_peers)
    discovery = ModelDiscovery(gateway, swarm, chain.helio().models, store, cache_dir, ipfs_peers)
    discovery.start()
    return discovery


def _chain(node_settings: Any) -> Any:
    from gateway.chain_link import ChainLink
    from node.cli.chain_access import chain_target

    if not node_settings.rpc_url:
        log.warning("no chain (--rpc-url / HELIO_RPC_URL): no stake check, payments off-chain")
        return None
    target = chain_target(None, None, settings=node_settings)
    target.deployment.check_against(target.w3)  # every contract has code (chain restarted?)
    return ChainLink(target.w3, target.deployment, target.rpc_url)


@app.command()
def bench(
    requests: int = typer.Option(16, "--requests", help="requests per measurement"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object as the last line"),
) -> None:
    """Gateway vs the client library in one run: added latency, requests/s, rate-limit accuracy."""
    from gateway.bench import main as bench_main

    bench_main(requests, as_json)
