"""``helio node serve``: run an inferer (serve a span of a model to the swarm)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from node.cli.swarm_common import (
    Host,
    InitialPeers,
    Port,
    initial_peers,
    quiet_hivemind,
    resolve_model_dir,
    watch_parent,
)
from node.core.errors import ConfigError

if TYPE_CHECKING:
    from node.inferer.config import EnergyOptions
    from node.inferer.metrics import MetricsOptions
    from node.ipfs import IpfsStore

app = typer.Typer(help="Run an inferer.", no_args_is_help=True)
log = logging.getLogger("helio.node")

ModelDir = typer.Option(None, "--model-dir", help="a converted model directory instead")
IpfsPeers = typer.Option([], "--ipfs-peer", help="IPFS multiaddr (…/p2p/<id>) to fetch weights from first; repeat")
Announce = typer.Option(
    [], "--announce",
    help="multiaddr others should dial (e.g. a relay or a proxy in front of this peer)",
)
EnergyOpts = typer.Option(
    [], "--energy-opt",
    help="an adapter option key=value, repeat: host=192.168.1.20, port=502, unit_id=1, house_w=300 "
         "(the house's load where no meter reports it) …; docs/energy.md lists each adapter's",
)
RelayOpt = typer.Option(
    [], "--relay",
    help="with --auto-relay: a relay multiaddr …/p2p/<id> to use instead of the initial peers; repeat",
)


@app.command()
def serve(
    model: str = typer.Option(None, "--model", "-m", help="model id (its converted copy in the cache)"),
    model_dir: Path = ModelDir,
    dtype: str = typer.Option("fp32", "--dtype", help="which converted copy: fp32, bf16, fp16"),
    blocks: str = typer.Option("auto", "--blocks", "-b", help="a:b (blocks [a, b)) or auto"),
    num_blocks: int = typer.Option(None, "--num-blocks", help="span length for --blocks auto (default: a third of the model)"),
    peers: list[str] = InitialPeers,
    host: str = Host,
    port: int = Port,
    announce: list[str] = Announce,
    private_key: str = typer.Option(None, "--private-key", envvar="HELIO_PRIVATE_KEY", help="Ethereum key signing records and outputs (default: a fresh one, unstaked)"),
    dev_key: int = typer.Option(None, "--dev-key", help="use anvil's PUBLIC dev account N (local chains only)"),
    threads: int = typer.Option(1, "--threads", help="torch threads"),
    quant: str = typer.Option(None, "--quant", help="quantize the span's weights: int8, int8-dynamic or int4"),
    refresh: float = typer.Option(30.0, "--refresh", help="seconds between DHT announcements"),
    cache_tokens: int = typer.Option(32768, "--cache-tokens", help="KV-cache budget over all sessions, in tokens"),
    max_sessions_per_peer: int = typer.Option(64, "--max-sessions-per-peer", min=1, help="open sessions one peer (a client or a gateway) may hold here; more are refused as busy"),
    max_streams_per_peer: int = typer.Option(128, "--max-streams-per-peer", min=1, help="open inference and push streams of one peer; more are refused as busy"),
    rebalance: float = typer.Option(0.0, "--rebalance", help="seconds between checks whether moving helps the swarm (0: never)"),
    rpc_url: str = typer.Option(None, "--rpc-url", envvar="HELIO_RPC_URL", help="register and stake on this chain at start"),
    network: str = typer.Option("local", "--network", help="deployments/<network>.json to use with --rpc-url"),
    region: str = typer.Option("", "--region", help="announced region"),
    auto_relay: bool = typer.Option(False, "--auto-relay", help="not reachable from outside: serve through a relay (bootstrap peers relay)"),
    relays: list[str] = RelayOpt,
    throughput: float = typer.Option(None, "--throughput", help="announce this tokens/s instead of measuring"),
    manifest_cid: str = typer.Option(None, "--manifest-cid", help="fetch only this span's files over IPFS (needs --blocks a:b)"),
    ipfs_peers: list[str] = IpfsPeers,
    energy: str = typer.Option("none", "--energy", help="energy gate: none (always serve); sunspec (an inverter over SunSpec Modbus TCP) or fronius (a Fronius datalogger's Solar API), with --energy-opt; fixed (--energy-watts); trace (real irradiance replayed from local noon)"),
    energy_opts: list[str] = EnergyOpts,
    energy_watts: float = typer.Option(1000.0, "--energy-watts", help="--energy fixed: available power in W"),
    trace_site: str = typer.Option("greensboro", "--trace-site", help="--energy trace: TMY site"),
    tz_offset: float = typer.Option(None, "--tz-offset", help="local UTC offset in hours, announced with the energy reports (--energy trace: default the site's)"),
    clock_speed: float = typer.Option(1.0, "--clock-speed", help="--energy trace: clock speed (120: an hour in 30 s)"),
    energy_window: float = typer.Option(45.0, "--energy-window", help="seconds of headroom averaged before loading or draining (30-60 recommended; at least 3 polls of 5 s)"),
    machine_watts: float = typer.Option(300.0, "--machine-watts", help="this machine's draw while serving at full load, W (sets how many sessions the headroom carries)"),
    idle_watts: float = typer.Option(120.0, "--idle-watts", help="its draw with the model loaded and no session, W"),
    energy_enforce: bool = typer.Option(True, "--energy-enforce/--no-energy-enforce", help="let the energy decide when to serve (off: report only, never wait)"),
    trace_date: str = typer.Option(None, "--trace-date", help="--energy trace: start at local noon of this day (MM-DD, YYYY-MM-DD, march-equinox, june-solstice, december-solstice; default today)"),
    attest_interval: float = typer.Option(3600.0, "--attest-interval", envvar="HELIO_ATTEST_INTERVAL", help="with --rpc-url: post energy reports on-chain at every state change and at most once per this many seconds (of the energy clock)"),
    metrics_port: int = typer.Option(None, "--metrics-port", envvar="HELIO_METRICS_PORT", min=0, max=65535, help="serve Prometheus metrics at http://HOST:PORT/metrics (default: off; 0 picks a free port, logged); docs/metrics.md"),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", envvar="HELIO_METRICS_HOST", help="address the metrics endpoint binds (loopback by default; 0.0.0.0 for a Prometheus on another machine)"),
) -> None:
    """Serve blocks of a model: load them, announce them in the DHT, answer sessions."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    quiet_hivemind()
    watch_parent()
    import torch
    from eth_account import Account

    from node.inferer.config import ChainConfig, InfererConfig, parse_blocks
    from node.inferer.server import serve as run_server
    from node.swarm.peer import PeerConfig, run

    torch.set_num_threads(threads)
    if relays and not auto_relay:
        raise ConfigError("--relay is for a server behind NAT: add --auto-relay")
    key = _key(private_key, dev_key)
    store = None
    if manifest_cid:
        store, model_dir = _fetch_span(manifest_cid, parse_blocks(blocks), ipfs_peers)
    config = InfererConfig(
        model_dir=resolve_model_dir(model, model_dir, dtype),
        blocks=parse_blocks(blocks),
        num_blocks=num_blocks,
        private_key=key,
        peer=PeerConfig(host=host, port=port, initial_peers=initial_peers(peers),
                        announce=announce, use_auto_relay=auto_relay,
                        trusted_relays=list(relays)),
        torch_threads=threads,
        quant=quant,
        refresh_s=refresh,
        cache_tokens=cache_tokens,
        max_sessions_per_peer=max_sessions_per_peer,
        max_streams_per_peer=max_streams_per_peer,
        rebalance_period_s=rebalance,
        region=region,
        relayed=auto_relay,
        chain=ChainConfig(rpc_url=rpc_url, network=network, region=region or "local",
                          deployments_dir=_deployments_dir()) if rpc_url else None,
        throughput_override=throughput,
        energy=_energy(energy, energy_opts, energy_watts, trace_site, tz_offset, clock_speed,
                       energy_enforce, trace_date, attest_interval,
                       {"window_s": energy_window, "power_w": machine_watts, "idle_w": idle_watts}),
    )
    log.info("inferer %s, model %s, blocks %s", Account.from_key(key).address, config.model_dir, blocks)
    try:
        run(run_server(config, _metrics(metrics_port, metrics_host)))
    finally:
        if store is not None:
            store.close()


def _fetch_span(manifest_cid: str, blocks: tuple[int, int] | None, peers: list[str]) -> tuple[IpfsStore, Path]:
    """Fetch (or reuse) exactly this span's files by manifest CID; the embedded IPFS node
    keeps seeding them while the inferer serves."""
    if blocks is None:
        raise ConfigError("--manifest-cid needs explicit --blocks a:b (auto needs the whole manifest first)")
    from node.core.settings import Settings
    from node.ipfs import fetch_span, open_store

    settings = Settings()
    # one Kubo repo per span on this machine (two processes cannot share a repo)
    store = open_store("embedded", data_dir=settings.cache_dir / f"ipfs-inferer-{blocks[0]}-{blocks[1]}")
    try:
        model_dir = fetch_span(manifest_cid, blocks[0], blocks[1], store, settings.cache_dir, peers=peers)
    except BaseException:
        store.close()
        raise
    log.info("fetched blocks %d:%d of %s over IPFS into %s", *blocks, manifest_cid, model_dir)
    return store, model_dir


def _energy(mode: str, opts: list[str], watts: float, site: str, tz: float | None, speed: float,
            enforce: bool, trace_date: str | None, attest_interval: float,
            controller: dict[str, float]) -> EnergyOptions | None:
    from node.energy.adapters import parse_options
    from node.inferer.config import ENERGY_MODES, EnergyOptions

    if mode not in ENERGY_MODES:
        raise ConfigError(f"--energy {mode!r}: use one of {', '.join(ENERGY_MODES)}")
    if mode == "none":
        if opts:
            raise ConfigError("--energy-opt needs --energy ADAPTER")
        return None
    return EnergyOptions(mode, adapter_options=parse_options(opts), watts=watts, trace_site=site,
                         tz_offset=tz, clock_speed=speed, enforce=enforce, trace_date=trace_date,
                         attest_interval_s=attest_interval, **controller)


def _metrics(port: int | None, host: str) -> MetricsOptions | None:
    from node.inferer.metrics import MetricsOptions

    return MetricsOptions(port=port, host=host) if port is not None else None


def _deployments_dir() -> Path | None:
    """HELIO_DEPLOYMENTS_DIR: another deployments/ folder (tests, several chains)."""
    directory = os.environ.get("HELIO_DEPLOYMENTS_DIR")
    return Path(directory) if directory else None


def _key(private_key: str | None, dev_key: int | None) -> str:
    if private_key and dev_key is not None:
        raise ConfigError("give --private-key or --dev-key, not both")
    if dev_key is not None:
        from node.chain.devkeys import DEV_ACCOUNTS

        if not 0 <= dev_key < len(DEV_ACCOUNTS):
            raise ConfigError(f"--dev-key must be 0..{len(DEV_ACCOUNTS) - 1}")
        return DEV_ACCOUNTS[dev_key].private_key
    if private_key:
        return private_key
    import secrets

    log.warning("no --private-key: using a fresh key (not staked: staked routers will skip it)")
    return "0x" + secrets.token_hex(32)
