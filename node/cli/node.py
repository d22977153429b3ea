"""``helio node serve``: run an inferer (serve a span of a model to the swarm)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from node.cli.chain_access import chain_target
from node.cli.process_exit import exit_now
from node.cli.serve_chain import stake_plan
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
from node.core.settings import load_settings

if TYPE_CHECKING:
    from node.inferer.config import EnergyOptions
    from node.inferer.metrics import MetricsOptions
    from node.ipfs import IpfsStore

app = typer.Typer(help="Run an inferer.", no_args_is_help=True)
log = logging.getLogger("helio.node")

ModelDir = typer.Option(None, "--model-dir", help="a converted model directory instead")
IdentityFileArg = typer.Argument(..., help="libp2p key file (created if missing)")
IdentityOpt = typer.Option(None, "--identity", help="libp2p key file: a stable peer id, created on first run (`helio node identity FILE` prints it; default: HELIO_IDENTITY, else a new peer id each start)")
IpfsPeers = typer.Option([], "--ipfs-peer", envvar="HELIO_IPFS_PEERS", help="IPFS multiaddr (…/p2p/<id>) of a node holding the weights (a publisher or another inferer): dialed first and kept connected (Kubo Peering); repeat")
IpfsListen = typer.Option([], "--ipfs-listen", envvar="HELIO_IPFS_LISTEN", help="swarm multiaddr the inferer's IPFS node listens on, e.g. /ip4/0.0.0.0/tcp/4001 so other machines fetch blocks from it (default loopback only); repeat")
IpfsAnnounce = typer.Option([], "--ipfs-announce", envvar="HELIO_IPFS_ANNOUNCE", help="public multiaddr other machines should dial when it differs from --ipfs-listen (a port forward); repeat")
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
def identity(path: Path = IdentityFileArg) -> None:
    """Print the peer id of a node identity file, creating the file first if needed: the
    peer id `helio stake --identity FILE` registers and `node serve --identity FILE` uses."""
    from node.swarm.identity import ensure_identity

    print(ensure_identity(path))


@app.command()
def serve(
    model: str = typer.Option(None, "--model", "-m", help="model id (its converted copy in the cache)"),
    model_dir: Path = ModelDir,
    dtype: str = typer.Option(None, "--dtype", help="which converted copy: fp32, bf16, fp16 (default: fp32 on the CPU, bf16/fp16 on a GPU)"),
    blocks: str = typer.Option("auto", "--blocks", "-b", help="a:b (blocks [a, b)) or auto"),
    num_blocks: int = typer.Option(None, "--num-blocks", help="span length for --blocks auto (default: a third of the model)"),
    peers: list[str] = InitialPeers,
    host: str = Host,
    port: int = Port,
    announce: list[str] = Announce,
    private_key: str = typer.Option(None, "--private-key", help="Ethereum key signing records and outputs (default: HELIO_PRIVATE_KEY / private_key in the settings, else a fresh one, unstaked)"),
    dev_key: int = typer.Option(None, "--dev-key", help="use anvil's PUBLIC dev account N (local chains only)"),
    threads: int = typer.Option(1, "--threads", help="torch threads"),
    quant: str = typer.Option(None, "--quant", help="quantize the span's weights: int8, int8-dynamic or int4"),
    wire_codec: str = typer.Option("auto", "--wire-codec", help="hidden-state codec offered first: auto (the family's safe default: fp16, bf16 for Gemma), fp16, bf16, int8-blockwise, none; docs/swarm.md#wire"),
    device: str = typer.Option("cpu", "--device", help="where the span runs: auto, cpu, cuda, cuda:N, mps (auto: a GPU if torch sees one)"),
    refresh: float = typer.Option(30.0, "--refresh", help="seconds between DHT announcements"),
    cache_tokens: int = typer.Option(32768, "--cache-tokens", help="KV-cache budget over all sessions, in tokens"),
    max_sessions_per_peer: int = typer.Option(64, "--max-sessions-per-peer", min=1, help="open sessions one peer (a client or a gateway) may hold here; more are refused as busy"),
    max_streams_per_peer: int = typer.Option(128, "--max-streams-per-peer", min=1, help="open inference and push streams of one peer; more are refused as busy"),
    rebalance: float = typer.Option(0.0, "--rebalance", help="seconds between checks whether moving helps the swarm (0: never)"),
    rpc_url: str | None = typer.Option(None, "--rpc-url", help="register on this chain at start (default: HELIO_RPC_URL / rpc_url in the settings)"),
    network: str = typer.Option(None, "--network", help="deployments/<network>.json to use with --rpc-url (default: HELIO_NETWORK, else local)"),
    identity: Path = IdentityOpt,
    stake: str = typer.Option(None, "--stake", help="with --rpc-url: own stake to hold, HELIO; bonds the difference (default: bond nothing, except the minimum on the local dev chain for a never-staked key)"),
    region: str = typer.Option("", "--region", help="announced region"),
    auto_relay: bool = typer.Option(False, "--auto-relay", help="not reachable from outside: serve through a relay (bootstrap peers relay)"),
    relays: list[str] = RelayOpt,
    throughput: float = typer.Option(None, "--throughput", help="announce this tokens/s instead of measuring"),
    manifest_cid: str = typer.Option(None, "--manifest-cid", help="fetch only the served span's files over IPFS by this manifest CID (with --blocks a:b, or auto: the manifest first, then the span it chooses)"),
    ipfs_peers: list[str] = IpfsPeers,
    ipfs_listen: list[str] = IpfsListen,
    follow: bool = typer.Option(False, "--follow-registry", help="serve whichever adopted model of ModelRegistry needs this machine most, and move when models are adopted or deprecated (the default with --rpc-url and no model named); --num-blocks caps the span (default: whole models); docs/models.md"),
    follow_period: float = typer.Option(15.0, "--follow-period", min=1.0, help="--follow-registry: seconds between looks at the registry and the swarm"),
    ipfs_announce: list[str] = IpfsAnnounce,
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

    from node.engine.codecs import check_wire_codec
    from node.engine.device import default_dtype, resolve_device
    from node.inferer.config import ChainConfig, InfererConfig, parse_blocks
    from node.inferer.server import serve as run_server
    from node.swarm.peer import PeerConfig, run

    torch.set_num_threads(threads)
    span_device = resolve_device(device)  # an absent GPU fails here, before anything starts
    if relays and not auto_relay:
        raise ConfigError("--relay is for a server behind NAT: add --auto-relay")
    settings = load_settings(rpc_url=rpc_url, network=network, identity=identity,
                             private_key=private_key if dev_key is None else None)
    rpc_url, network = settings.rpc_url, settings.network
    if settings.private_key is not None and dev_key is None:
        private_key = settings.private_key.get_secret_value()
    key = _key(private_key, dev_key)
    from node.chain.anvil import rpc_chain_id
    from node.chain.devkeys import is_dev_key, refuse_dev_key

    if rpc_url and is_dev_key(key):  # anvil's public keys: the local chain (31337) only
        refuse_dev_key(key, rpc_chain_id(rpc_url), "the inferer's key (--dev-key/--private-key)")
    # Fail fast, before any IPFS fetch or p2p start: the chain and the stake to hold.
    target = chain_target(None, None, settings=settings) if rpc_url else None
    stake_wei = stake_plan(target, key, stake) if target is not None else None
    if stake and target is None:
        raise ConfigError("--stake needs a chain: give --rpc-url (or HELIO_RPC_URL)")
    identity_path = str(settings.identity) if settings.identity else None
    if identity_path:
        from node.swarm.identity import ensure_identity

        log.info("identity %s: peer id %s", identity_path, ensure_identity(Path(identity_path)))
    if follow or (rpc_url and not (model or model_dir or manifest_cid)):
        if private_key is None and dev_key is None:
            os.environ["HELIO_PRIVATE_KEY"] = key  # every child inferer signs as this one
        from node.cli.node_follow import follow_registry

        follow_registry(address=Account.from_key(key).address, rpc_url=rpc_url, network=network,
                        deployments_dir=_deployments_dir(), peers=initial_peers(peers),
                        ipfs_peers=ipfs_peers, max_blocks=num_blocks, period_s=follow_period)
        return
    store, fetch = None, None
    if manifest_cid and rpc_url:
        from node.cli.serve_checks import refuse_unadopted

        refuse_unadopted(manifest_cid, rpc_url, network)
    if manifest_cid:
        store, model_dir, fetch = _fetch_span(manifest_cid, parse_blocks(blocks),
                                              IpfsNet(ipfs_peers, ipfs_listen, ipfs_announce),
                                              Account.from_key(key).address)
    config = InfererConfig(
        model_dir=resolve_model_dir(model, model_dir, dtype or default_dtype(span_device)),
        blocks=parse_blocks(blocks),
        num_blocks=num_blocks,
        private_key=key,
        peer=PeerConfig(host=host, port=port, initial_peers=initial_peers(peers),
                        announce=announce, use_auto_relay=auto_relay,
                        trusted_relays=list(relays), identity_path=identity_path),
        torch_threads=threads,
        quant=quant,
        wire_codec=check_wire_codec(wire_codec),
        device=str(span_device),
        refresh_s=refresh,
        cache_tokens=cache_tokens,
        max_sessions_per_peer=max_sessions_per_peer,
        max_streams_per_peer=max_streams_per_peer,
        rebalance_period_s=rebalance,
        region=region,
        relayed=auto_relay,
        chain=ChainConfig(rpc_url=rpc_url, network=network, region=region or "local",
                          deployments_dir=_deployments_dir(), stake_wei=stake_wei) if rpc_url else None,
        throughput_override=throughput,
        fetch_span=fetch,
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
    exit_now()  # shut down cleanly: skip the interpreter's seconds-long finalization


@dataclass(frozen=True)
class IpfsNet:
    """Where the inferer's embedded IPFS node listens, what it announces, whom it peers."""

    peers: list[str]
    listen: list[str]
    announce: list[str]


def _fetch_span(manifest_cid: str, blocks: tuple[int, int] | None, net: IpfsNet,
                owner: str) -> tuple[IpfsStore, Path, Callable[[int, int], Path]]:
    """Fetch (or reuse) exactly this span's files by manifest CID; with --blocks auto only
    the manifest (the server fetches the span it chooses). The returned fetcher gets any
    other span (a rebalance fetches before it releases the old one); the embedded IPFS
    node keeps seeding what was fetched while the inferer serves."""
    from node.core.settings import Settings
    from node.ipfs import fetch_manifest, fetch_span, fetched_model_dir, open_store

    settings = Settings()
    # one Kubo repo per model and span on this machine (two processes cannot share a repo;
    # a registry follower runs the next model's inferer beside the current one)
    label = f"{blocks[0]}-{blocks[1]}" if blocks else f"auto-{owner[-8:].lower()}"  # its span moves
    repo = settings.cache_dir / f"ipfs-inferer-{manifest_cid[-8:]}-{label}"
    store = open_store("embedded", data_dir=repo,
                       listen=net.listen or None, announce=net.announce, peering=net.peers)
    log.info("IPFS node %s on %s", store.peer_id, " ".join(store.addrs()))

    def fetch(start: int, end: int) -> Path:
        model_dir = fetch_span(manifest_cid, start, end, store, settings.cache_dir, peers=net.peers)
        log.info("fetched blocks %d:%d of %s over IPFS into %s", start, end, manifest_cid, model_dir)
        return model_dir

    try:
        if blocks is not None:
            return store, fetch(*blocks), fetch
        fetch_manifest(manifest_cid, store, settings.cache_dir, peers=net.peers)
        return store, fetched_model_dir(settings.cache_dir, manifest_cid), fetch
    except BaseException:
        store.close()
        raise


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
    return load_settings().deployments_dir


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
