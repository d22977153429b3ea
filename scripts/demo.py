#!/usr/bin/env python
"""The `make demo` launcher: everything on loopback, one command.

A local anvil chain with the contracts deployed, SmolLM2 converted into per-block
files and published on an embedded IPFS node (the demo model is adopted on-chain with
that manifest CID; each inferer fetches only its span's files by CID), a real swarm on 127.0.0.1 (a hivemind bootstrap peer and three `helio node serve`
processes, one span each, registered and staked with anvil's PUBLIC dev keys 1-3, found
through the DHT; the client routes only to staked inferers, servers push hidden states
to each other), and the gateway answering one question through that swarm.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel

from node.cli.main import setup_logging
from node.core.errors import HeliomeshError
from node.core.settings import Settings

console = Console()
log = logging.getLogger("demo")

DEMO_MODEL = "smollm2-135m-instruct"
DEMO_INFERERS = 3  # inferer processes, one span each
DEMO_CLOCK_SPEED = 120.0  # energy trace clock: 120 s of simulated time per wall second
# The trace day: local noon of the March equinox (Greensboro's TMY sun is strong then, so
# the inferers come online on sunlight whatever today's date and weather are).
DEMO_TRACE_DATE = "march-equinox"
DEMO_WALLET = 4  # anvil's PUBLIC dev key 4: the wallet `helio wallet ...` uses while the demo runs


def run(once: bool, question: str, dtype: str, max_new_tokens: int) -> None:
    from node.chain import (
        DEV_ACCOUNTS,
        Anvil,
        ChainParams,
        DemoModel,
        connect,
        deploy_all,
        ensure_compiled,
    )
    from node.ipfs import open_store, publish_model
    from node.models.convert import convert_model

    settings = Settings()
    started = time.perf_counter()
    ensure_compiled()
    with Anvil() as anvil, contextlib.ExitStack() as stack:
        log.info("anvil (local chain %d) at %s, pid %d", anvil.chain_id, anvil.rpc_url, anvil.pid)
        w3 = connect(anvil.rpc_url, expected_chain_id=anvil.chain_id)
        converted = convert_model(DEMO_MODEL, dtype, settings.cache_dir)
        manifest = converted.manifest
        log.info("model %s (%s, %d blocks) at %s", manifest.model_id, manifest.dtype,
                 manifest.num_blocks, converted.model_dir)
        # The weights travel over IPFS: this process publishes them on an embedded Kubo
        # node (loopback only); each inferer fetches just its span's files by CID.
        ipfs = stack.enter_context(open_store("embedded", data_dir=settings.cache_dir / "ipfs-demo-publisher"))
        published = publish_model(converted.model_dir, ipfs)
        log.info("published %s on IPFS: manifest %s (%d files, %.0f MB, %.1f s)", DEMO_MODEL,
                 published.manifest_cid, published.files, published.total_bytes / 1e6, published.seconds)

        # anvil's first PUBLIC dev key: a well-known test key, never for real funds.
        # The demo model is registered and adopted with the manifest CID just published.
        params = ChainParams(demo_model=DemoModel(model_id=DEMO_MODEL, manifest_cid=published.manifest_cid))
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "local", params=params)
        for name, contract in deployment.contracts.items():
            log.info("deployed %s at %s", name, contract.address)
        stack.callback(write_cli_settings(anvil.rpc_url).unlink, missing_ok=True)
        # The gateway (OpenAI API, web chat, dashboard) on loopback; the question goes
        # through its HTTP API with the official openai SDK.
        from gateway.chain_link import ChainLink
        from gateway.launch import ask, serve_in_thread

        served = start_swarm(stack, converted.model_dir, anvil.rpc_url, w3,
                             ipfs_args(published.manifest_cid, ipfs.addrs()) + energy_args(once))
        _, gateway_server = serve_in_thread({DEMO_MODEL: served}, ChainLink(w3, deployment, anvil.rpc_url))
        stack.callback(gateway_server.stop)
        console.print(f"gateway: web chat + dashboard at [bold]{gateway_server.url}/[/] · "
                      f"OpenAI API at {gateway_server.url}/v1")
        log.info("ready in %.1f s; asking: %s", time.perf_counter() - started, question)

        t0 = time.perf_counter()
        answer = ask(gateway_server.url, DEMO_MODEL, question, max_new_tokens)
        elapsed = time.perf_counter() - t0
        console.print(Panel(answer, title=f"[bold]{question}", subtitle=f"{DEMO_MODEL} · {elapsed:.1f} s"))
        print(f"ANSWER: {answer}", flush=True)
        with contextlib.suppress(Exception):  # informative only
            log_chain_energy(w3, sorted({s.address for s in served.spans if s.address}))
        if once:
            return
        console.print(f"chain at {anvil.rpc_url}; deployments in deployments/local.json; "
                      f"gateway at {gateway_server.url}/; `helio wallet balance` (no flags) "
                      "reads the demo's chain while it runs. Ctrl-C to stop.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    console.print("stopped.")


def write_cli_settings(rpc_url: str) -> Path:
    """Tell every `helio` command where the demo's chain is, while the demo runs: its RPC
    URL (a random port), the network, and a wallet (anvil's PUBLIC dev key 4, local chain
    only), so `helio wallet balance` works with no flags (node/core/settings.py reads this
    file last, and only while this process lives)."""
    import os

    from node.chain import DEV_ACCOUNTS
    from node.core.settings import DEMO_PID_KEY, demo_settings_file, write_settings_file

    path = write_settings_file(demo_settings_file(), {
        DEMO_PID_KEY: os.getpid(), "network": "local", "rpc_url": rpc_url,
        "private_key": DEV_ACCOUNTS[DEMO_WALLET].private_key})
    log.info("settings for `helio` commands while the demo runs: %s (rpc_url %s, network local, "
             "wallet %s)", path, rpc_url, DEV_ACCOUNTS[DEMO_WALLET].address)
    return path


def ipfs_args(manifest_cid: str, peers: list[str]) -> list[str]:
    """`helio node serve` arguments that make an inferer fetch its span over IPFS."""
    args = ["--manifest-cid", manifest_cid]
    for peer in peers:
        args += ["--ipfs-peer", peer]
    return args


def energy_args(once: bool) -> list[str]:
    """Each inferer runs behind the energy controller, fed by real irradiance replayed from
    local noon of DEMO_TRACE_DATE at DEMO_CLOCK_SPEED (an hour in 30 s: the afternoon's
    decline, the evening on battery and the night show on the dashboard within minutes);
    its signed reports go into its DHT record and, at every state change and once per
    simulated hour, on-chain. ``--once`` never waits on energy: the reports are still
    signed, announced and posted, but they decide nothing."""
    args = ["--energy", "trace", "--clock-speed", str(DEMO_CLOCK_SPEED), "--trace-date", DEMO_TRACE_DATE]
    return args + (["--no-energy-enforce"] if once else ["--energy-enforce"])


def log_chain_energy(w3: Any, addresses: list[str]) -> None:
    """What EnergyAttestations holds for each inferer (posted by the inferers themselves)."""
    from node.chain.bindings import HelioChain
    from node.energy.state import InfererState

    energy = HelioChain.open(w3, "local").energy
    for address in addresses:
        report = energy.latest(address)
        if not report["timestamp"]:
            log.info("on-chain energy of %s: nothing posted yet", address[:8])
            continue
        log.info("on-chain energy of %s: %s, headroom %d W, battery %d %%, %.0f s ago", address[:8],
                 InfererState(report["state"]).label, report["headroom_w"],
                 report["battery_soc_bps"] // 100, time.time() - report["timestamp"])


def start_swarm(stack: contextlib.ExitStack, model_dir: Path, rpc_url: str, w3: Any,
                inferer_args: list[str]) -> Any:
    """Bootstrap + one inferer process per span (dev keys 1..3, staked on start); returns
    the gateway's ``ServedModel`` whose routes go through the swarm. ``stack`` stops it all."""
    from gateway.served_model import ServedModel, SpanInfo
    from node.chain.bindings import HelioChain
    from node.client import ClientModel
    from node.client.swarm_client import swarm_client
    from node.harness.swarm import LocalSwarm

    model = ClientModel(model_dir)
    n = model.manifest.num_blocks
    bounds = [round(i * n / DEMO_INFERERS) for i in range(DEMO_INFERERS + 1)]
    swarm = stack.enter_context(LocalSwarm(model_dir, Settings().logs / "demo-swarm", rpc_url=rpc_url))
    log.info("bootstrap peer at %s", swarm.start_bootstrap()[0])
    for index, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        swarm.start_inferer((start, end), dev_key=index + 1, wait=False,  # PUBLIC anvil dev keys
                            extra_args=inferer_args)
    swarm.wait_ready()
    client = stack.enter_context(swarm_client(swarm.initial_peers, chain=HelioChain.open(w3, "local")))
    route = client.wait_for_coverage(DEMO_MODEL, n)
    log.info("swarm route: %s", " -> ".join(f"{h.peer_id[-6:]}[{h.start}:{h.end}] ({h.address[:8]})" for h in route))
    records = sorted(client.records(DEMO_MODEL, n).values(), key=lambda r: r.start)
    # The signed energy reports in the records, verified under the deployed
    # EnergyAttestations domain against each inferer's registered attestation key.
    for claim in client.energy.observe(records):
        log.info("energy of %s: %s, headroom %.0f W, battery %s, capacity %d", claim.inferer[:8],
                 claim.state.label, claim.headroom_w,
                 "-" if claim.battery_soc is None else f"{claim.battery_soc:.0%}", claim.capacity)
    spans = [SpanInfo(r.peer_id, r.start, r.end, r.state.value, r.address) for r in records]
    hidden = model.manifest.hidden_size
    return ServedModel(DEMO_MODEL, model, lambda: client.route(DEMO_MODEL, n, hidden), n, spans,
                       swarm=client)  # the dashboard reads the live DHT records


def main(
    once: bool = typer.Option(False, "--once", help="exit 0 after printing the answer"),
    question: str = typer.Option("What is the capital of France?", "--question", "-q"),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32, bf16 or fp16"),
    max_new_tokens: int = typer.Option(48, "--max-new-tokens"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Start a local Heliomesh on loopback and answer one chat request through it."""
    settings = Settings()
    log_file = settings.logs / "demo.log"
    setup_logging(logging.DEBUG if verbose else logging.INFO, log_file)
    log.info("logging to %s", log_file)
    try:
        run(once, question, dtype, max_new_tokens)
    except HeliomeshError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    typer.run(main)
