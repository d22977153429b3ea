"""``helio join``: one command for a volunteer — look at the machine, plan what fits, show the
stake, ask once, then serve with energy gating (``helio node serve`` underneath).

    helio join --energy fronius --energy-opt host=192.168.1.20 --identity ~/.helio/node.key
    helio join --yes --max-memory 4GiB --max-upload 20 --threads 4 --hours 8   # scripts

The plan (hardware, span, dtype/quantization, caps, stake) is printed, written to
``<cache>/join/<address>.json`` (the node's record on this machine) and logged by the
inferer; docs/operators.md walks through it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from node.cli.join_plan import GIB, MIB, Caps, Hardware, JoinPlan, parse_size, plan_join
from node.cli.stake import from_wei, open_chain, to_wei
from node.core.errors import ConfigError

if TYPE_CHECKING:
    from node.chain.bindings import HelioChain

console = Console(stderr=True)
log = logging.getLogger("helio.join")

EnergyOpts = typer.Option([], "--energy-opt", help="an adapter option key=value, repeat (docs/energy.md)")
ModelDir = typer.Option(None, "--model-dir", help="a converted model directory instead of the cache")
Identity = typer.Option(None, "--identity", help="libp2p key file: the node's stable peer id (created on first run)")
Peers = typer.Option([], "--initial-peers", help="multiaddr of a bootstrap peer; repeat (default: HELIO_INITIAL_PEERS)")


def join(
    model: str = typer.Option(None, "--model", "-m", help="model id (default: the first model the chain has adopted)"),
    model_dir: Path = ModelDir,
    energy: str = typer.Option(None, "--energy", help="your inverter's adapter: sunspec, fronius, fixed, trace, none (asked when not given)"),
    energy_opts: list[str] = EnergyOpts,
    energy_watts: float = typer.Option(None, "--energy-watts", help="--energy fixed: available power, W"),
    energy_window: float = typer.Option(45.0, "--energy-window", help="seconds of headroom averaged before going online or draining (30-60 recommended; at least 15)"),
    identity: Path = Identity,
    stake: str = typer.Option(None, "--stake", help="own stake to hold, HELIO (default: the contract's minimum)"),
    private_key: str = typer.Option(None, "--private-key", help="the operator's Ethereum key (stakes, signs; default: HELIO_PRIVATE_KEY / private_key in the settings)"),
    dev_key: int = typer.Option(None, "--dev-key", help="anvil's PUBLIC dev account N (local chain only)"),
    network: str = typer.Option(None, "--network", help="deployments/<network>.json (default: HELIO_NETWORK or local)"),
    rpc_url: str = typer.Option(None, "--rpc-url", help="the chain (default: HELIO_RPC_URL)"),
    peers: list[str] = Peers,
    host: str = typer.Option("127.0.0.1", "--host", help="address the inferer listens on (0.0.0.0 to serve other machines)"),
    port: int = typer.Option(0, "--port", help="its TCP port (0: any free one)"),
    region: str = typer.Option("", "--region", help="IANA time zone announced, e.g. Europe/Berlin"),
    max_memory: str = typer.Option(None, "--max-memory", help="memory the node may use, e.g. 4GiB (default: 80 % of what is free)"),
    max_upload: float = typer.Option(None, "--max-upload", help="upload cap, Mbit/s (the announced throughput is held under it)"),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads (default: every physical core)"),
    hours: float = typer.Option(None, "--hours", min=0.0, help="stop cleanly after this many hours"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask: accept the plan and the stake (scripts)"),
    plan_only: bool = typer.Option(False, "--plan-only", help="print the plan and exit without staking or serving"),
) -> None:
    """Join the network: plan what this machine can serve, bond the stake, serve."""
    from node.core.settings import Settings

    settings = Settings()
    key = _key(private_key, dev_key)
    caps = Caps(max_memory=parse_size(max_memory) if max_memory else None,
                max_upload_mbit=max_upload, threads=threads, hours=hours)  # fmt: skip
    chain = _chain(network, rpc_url, key)
    hardware = Hardware.detect(settings.cache_dir)
    directory = _model_dir(model, model_dir, chain, settings.cache_dir, hardware.accelerator is not None)
    plan = plan_join(hardware, caps, directory)
    energy = energy or _ask_energy(yes)
    peer_id = _peer_id(identity)
    target, to_bond = _stake_plan(chain, stake)
    _show(hardware, caps, plan, chain, target, to_bond, energy, peer_id)
    if plan_only:
        return
    if not yes and not typer.confirm("bond this stake and start serving?", default=False):
        raise typer.Exit(1)
    record = _write_record(settings.cache_dir, chain, hardware, caps, plan, energy, peer_id, target)
    console.print(f"record: {record}")
    if hours:
        _stop_after(hours)
    _serve(plan, key, dev_key, chain, rpc_url, network, identity, target, energy, energy_opts,
           energy_watts, energy_window, peers, host, port, region)  # fmt: skip


def _key(private_key: str | None, dev_key: int | None) -> str | None:
    if private_key and dev_key is not None:
        raise ConfigError("give --private-key (HELIO_PRIVATE_KEY) or --dev-key, not both")
    if dev_key is not None:
        from node.chain.devkeys import DEV_ACCOUNTS

        if not 0 <= dev_key < len(DEV_ACCOUNTS):
            raise ConfigError(f"--dev-key must be 0..{len(DEV_ACCOUNTS) - 1}")
        return DEV_ACCOUNTS[dev_key].private_key
    from node.core.settings import load_settings  # HELIO_PRIVATE_KEY, .env, heliomesh.toml

    return private_key or (s.private_key.get_secret_value() if (s := load_settings()).private_key else None)


def _chain(network: str | None, rpc_url: str | None, key: str | None) -> HelioChain | None:
    """The chain to stake on, or None when no RPC is configured (an unstaked node)."""
    from node.core.settings import Settings

    if not (rpc_url or Settings().rpc_url):
        console.print("[yellow]no --rpc-url / HELIO_RPC_URL: joining unstaked "
                      "(staked routers and gateways will skip this node)[/]")  # fmt: skip
        return None
    if key is None:
        raise ConfigError("staking needs the operator's key: set HELIO_PRIVATE_KEY "
                          "(or --dev-key N on the local chain)")  # fmt: skip
    from node.chain.connect import local_account

    chain = open_chain(network, rpc_url, None, signing=False)
    chain.account = local_account(key)
    return chain


def _model_dir(model: str | None, model_dir: Path | None, chain: HelioChain | None, cache: Path,
               accelerator: bool) -> Path:  # fmt: skip
    """The weights to serve: --model-dir, the chain model's fetched copy (`helio model
    fetch CID`), or a converted copy in the cache (`helio model convert`)."""
    if model_dir is not None:
        return model_dir
    if model is None:
        if chain is None:
            raise ConfigError("say which model: --model ID (or give --rpc-url: the chain's adopted model)")
        adopted = chain.models.adopted_models()
        if not adopted:
            raise ConfigError("the chain has adopted no model yet: nothing to serve (docs/testnet.md)")
        model = adopted[0]
    from node.core.manifest import Dtype
    from node.ipfs.fetch import fetched_model_dir
    from node.models.convert import model_dir as cached_dir

    cid = chain.models.model(model)["manifest_cid"] if chain is not None else None
    candidates = [fetched_model_dir(cache, cid)] if cid else []
    # A GPU serves a half-precision copy at half the memory; a CPU the fp32 one (exact).
    dtypes: tuple[Dtype, ...] = (
        ("bfloat16", "float16", "float32") if accelerator else ("float32", "bfloat16", "float16"))
    candidates += [cached_dir(cache, model, dtype) for dtype in dtypes]
    for directory in candidates:
        if (directory / "manifest.json").is_file() and _complete(directory):
            return directory
    fetch = f"`helio model fetch {cid} --peer <a seeder>`" if cid else "`helio model fetch <manifest CID>`"
    raise ConfigError(f"{model} is not on this machine: {fetch} (or `helio model convert {model}`) first")


def _complete(directory: Path) -> bool:
    """Every block file is there (a span-only fetch is not enough to plan a span on)."""
    from node.core.manifest import Manifest

    manifest = Manifest.load(directory)
    return all((directory / name).is_file() for name in manifest.block_files(0, manifest.num_blocks))


def _ask_energy(yes: bool) -> str:
    if yes:
        raise ConfigError("say how the node is powered: --energy sunspec|fronius|fixed|trace|none")
    from node.inferer.config import ENERGY_MODES

    answer: str = typer.prompt(f"energy adapter ({', '.join(ENERGY_MODES)})", default="none")
    return answer


def _peer_id(identity: Path | None) -> str | None:
    if identity is None:
        return None
    from node.swarm.identity import ensure_identity

    return str(ensure_identity(identity))


def _stake_plan(chain: HelioChain | None, stake: str | None) -> tuple[int, int]:
    """(own stake to hold, wei still to bond); refuses early when the balance is short."""
    if chain is None:
        if stake:
            raise ConfigError("--stake needs a chain: give --rpc-url (or set HELIO_RPC_URL)")
        return 0, 0
    assert chain.account is not None
    me = chain.account.address
    current = chain.staking.stake_of(me).self_stake
    target = max(to_wei(stake), current) if stake else max(chain.staking.min_stake(), current)
    to_bond = target - current
    balance = chain.token.balance_of(me)
    if balance < to_bond:
        raise ConfigError(
            f"{me} holds {from_wei(balance)} HELIO, the stake needs {from_wei(to_bond)} more: "
            "draw it with `helio wallet faucet` or ask a holder for `helio wallet transfer`"
        )
    return target, to_bond


def _show(hw: Hardware, caps: Caps, plan: JoinPlan, chain: HelioChain | None, target: int,
          to_bond: int, energy: str, peer_id: str | None) -> None:  # fmt: skip
    gpu = f"{hw.accelerator} ({(hw.accelerator_memory or 0) / GIB:.0f} GiB)" if hw.accelerator else "none"
    lines = [
        f"machine: {hw.cores} cores, {hw.memory_available / GIB:.1f} of {hw.memory_total / GIB:.1f} GiB "
        f"memory free, accelerator {gpu}, {hw.disk_free / GIB:.0f} GiB free disk",
        f"plan: {plan.model_id}, {'the whole model' if plan.whole_model else 'a span'}: "
        f"{plan.span_blocks} of {plan.num_blocks} blocks, {plan.dtype}{' + int8' if plan.quant else ''}, KV cache "
        f"{plan.cache_tokens} tokens, {plan.threads} thread{'s' if plan.threads > 1 else ''}, ≈ {plan.memory_planned / MIB:.0f} "
        f"of {plan.memory_budget / MIB:.0f} MiB",
        "caps: " + ", ".join([
            f"memory {caps.max_memory / MIB:.0f} MiB" if caps.max_memory else "memory -",
            f"upload {caps.max_upload_mbit} Mbit/s (≤ {plan.throughput_cap} tokens/s announced)"
            if caps.max_upload_mbit else "upload -",
            f"threads {caps.threads}" if caps.threads else "threads -",
            f"hours {caps.hours}" if caps.hours else "hours -",
        ]),
        f"energy: {energy}",
        f"identity: {peer_id or 'a new peer id each start (give --identity FILE to keep one)'}",
    ]  # fmt: skip
    if chain is not None:
        assert chain.account is not None
        lines.append(
            f"stake: {chain.account.address} holds {from_wei(target)} HELIO of own stake once "
            f"joined; bonds {from_wei(to_bond)} HELIO now (unbonding takes "
            f"{chain.staking.unbonding_delay() / 3600:g} h after `helio unstake`)"
        )
    console.print("\n".join(lines))


def _write_record(cache: Path, chain: HelioChain | None, hw: Hardware, caps: Caps, plan: JoinPlan,
                  energy: str, peer_id: str | None, target: int) -> Path:  # fmt: skip
    """``<cache>/join/<address or peer id>.json``: what this machine joined with."""
    who = chain.account.address if chain is not None and chain.account else (peer_id or "unstaked")
    path = cache / "join" / f"{who}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "joined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "address": chain.account.address if chain is not None and chain.account else None,
        "peer_id": peer_id,
        "hardware": asdict(hw),
        "caps": asdict(caps),
        "plan": plan.as_record(),
        "energy": energy,
        "stake_wei": str(target),
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _stop_after(hours: float) -> None:
    """--hours: the same clean stop as Ctrl-C or systemd (drain, offline report)."""
    timer = threading.Timer(hours * 3600, os.kill, (os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()
    log.info("will stop after %g h", hours)


def _serve(plan: JoinPlan, key: str | None, dev_key: int | None, chain: HelioChain | None,
           rpc_url: str | None, network: str | None, identity: Path | None, target: int,
           energy: str, energy_opts: list[str], energy_watts: float | None,
           energy_window: float, peers: list[str], host: str, port: int,
           region: str) -> None:  # fmt: skip
    """Run ``helio node serve`` in this process with the plan as its flags."""
    import typer.main

    from node.cli.node import serve

    single = typer.Typer()
    single.command()(serve)
    command = typer.main.get_command(single)  # `helio node serve` alone, as a click command
    serve_flags = {opt for p in command.params for opt in p.opts}
    args = ["--model-dir", str(plan.model_dir), "--threads", str(plan.threads),
            "--cache-tokens", str(plan.cache_tokens), "--host", host, "--port", str(port),
            "--energy", energy]  # fmt: skip
    args += ["--blocks", f"0:{plan.num_blocks}"] if plan.whole_model else [
        "--blocks", "auto", "--num-blocks", str(plan.span_blocks)]  # fmt: skip
    args += ["--quant", plan.quant] if plan.quant else []
    args += ["--throughput", str(plan.throughput_cap)] if plan.throughput_cap else []
    args += ["--energy-watts", str(energy_watts)] if energy_watts is not None else []
    args += ["--energy-window", str(energy_window)] if energy != "none" else []
    args += [arg for opt in energy_opts for arg in ("--energy-opt", opt)]
    args += [arg for peer in peers for arg in ("--initial-peers", peer)]
    args += ["--region", region] if region else []
    if identity:
        if "--identity" not in serve_flags:
            raise ConfigError("this `helio node serve` has no --identity yet: leave --identity out")
        args += ["--identity", str(identity)]
    if dev_key is not None:
        args += ["--dev-key", str(dev_key)]
    elif key:
        args += ["--private-key", key]
    if chain is not None:
        args += ["--rpc-url", rpc_url or str(chain.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
                 "--network", network or chain.deployment.network]  # fmt: skip
        # Without --stake (older serve) it bonds the contract minimum itself: the same target.
        args += ["--stake", from_wei(target)] if "--stake" in serve_flags else []
    log.info("helio node serve %s", " ".join(_redacted(args)))
    command.main(args=args, prog_name="helio node serve", standalone_mode=False)


def _redacted(args: list[str]) -> list[str]:
    return ["<key>" if i and args[i - 1] == "--private-key" else a for i, a in enumerate(args)]
