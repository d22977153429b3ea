"""Attestation gas as a running inferer really posts it:
``python -m node.harness.attest_gas [--hours 24] [--speed 300] [--json]``.

Starts anvil, deploys the contracts into a temporary deployments folder, a bootstrap peer
and one ``helio node serve --energy trace --energy-enforce --rpc-url ...`` process (real
TMY sun from local noon of ``--trace-date`` on a clock ``--speed`` times real time, the
posting policy of ``--attest-interval``), lets it run ``--hours`` simulated hours, stops it
(SIGTERM: its ``offline`` report is posted too), then reads every ``EnergyReported`` event
of that inferer and each transaction's gas from its receipt. ``gas_per_inferer_day`` is the
measured total scaled to 24 simulated hours (no scaling with the default 24 h run; the
first post, which creates the inferer's storage slot, is included). In the same run it
also prints ``helio sim attest-gas --json`` (the simulation's estimate) for comparison.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

MODEL = "smollm2-135m-instruct"


def measure(hours: float = 24.0, speed: float = 300.0, interval_s: float = 3600.0,
            trace_date: str = "march-equinox", site: str = "greensboro") -> dict[str, Any]:
    from node.chain import Anvil, connect, deploy_all, ensure_compiled
    from node.chain.bindings import HelioChain
    from node.chain.devkeys import DEV_ACCOUNTS
    from node.core.settings import Settings
    from node.energy.state import InfererState
    from node.harness.swarm import LocalSwarm
    from node.models.convert import convert_model

    ensure_compiled()
    model_dir = convert_model(MODEL, "fp32", Settings().cache_dir, progress=False).model_dir
    with Anvil() as anvil, tempfile.TemporaryDirectory(prefix="helio-attest-gas-") as tmp:
        w3 = connect(anvil.rpc_url, expected_chain_id=anvil.chain_id)
        deployments = Path(tmp) / "deployments"
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "local", directory=deployments)
        chain = HelioChain.open(w3, "local", None, deployments)
        with LocalSwarm(model_dir, Path(tmp) / "logs", rpc_url=anvil.rpc_url,
                        extra_env={"HELIO_DEPLOYMENTS_DIR": str(deployments)}) as swarm:
            swarm.start_bootstrap()
            proc = swarm.start_inferer((0, 30), dev_key=4, extra_args=[
                "--energy", "trace", "--energy-enforce", "--clock-speed", str(speed),
                "--trace-date", trace_date, "--trace-site", site,
                "--attest-interval", str(interval_s), "--throughput", "100"])
            started = time.monotonic()
            time.sleep(hours * 3600.0 / speed)
            assert proc.popen is not None
            os.kill(proc.popen.pid, signal.SIGTERM)  # it posts `offline`, then leaves
            proc.popen.wait(60)
            ran_h = (time.monotonic() - started) * speed / 3600.0
            log_text = (Path(tmp) / "logs" / f"{proc.name}.log").read_text(errors="replace")
        me = DEV_ACCOUNTS[4].address
        events = [e for e in chain.energy.c.events.EnergyReported().get_logs(from_block=0)
                  if e.args.inferer == me]
        receipts = {e.transactionHash: w3.eth.get_transaction_receipt(e.transactionHash) for e in events}
    gas = [int(r["gasUsed"]) for r in receipts.values()]
    states = [InfererState(e.args.state).label for e in events]
    transitions = sum(1 for a, b in zip(states, states[1:], strict=False) if a != b)
    total = sum(gas)
    return {
        "simulated_hours": round(ran_h, 2),
        "clock_speed": speed,
        "trace": f"{site} {trace_date}, from local noon",
        "policy_interval_s": interval_s,
        "reports_posted": len(events),
        "transactions": len(gas),
        "state_changes_posted": transitions + 1,  # the first post is a state change too
        "states": states,
        "first_post_gas": gas[0] if gas else 0,
        "later_post_gas_mean": round(sum(gas[1:]) / max(1, len(gas) - 1)),
        "gas_total": total,
        "posts_per_inferer_day": round(len(events) * 24.0 / ran_h, 2),
        "gas_per_inferer_day": round(total * 24.0 / ran_h),
        "post_failures_logged": log_text.count("energy report post failed"),
        "energy_states_logged": [line.split("energy state ")[1].split(" (")[0]
                                 for line in log_text.splitlines() if "energy state " in line],
        "chain": "anvil (local)",
    }


def sim_estimate(interval_s: float) -> dict[str, Any]:
    """``helio sim attest-gas --json`` in a subprocess (the sim sits above this layer)."""
    out = subprocess.run([sys.executable, "-m", "node.cli.main", "sim", "attest-gas", "--interval-s",
                          str(interval_s), "--json"], capture_output=True, text=True, check=True,
                         timeout=600)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(
    hours: float = typer.Option(24.0, "--hours", help="simulated hours to run the inferer"),
    speed: float = typer.Option(300.0, "--speed", help="energy clock speed (300: a day in 4.8 min)"),
    interval: float = typer.Option(3600.0, "--attest-interval", help="posting interval (energy-clock s)"),
    trace_date: str = typer.Option("march-equinox", "--trace-date"),
    site: str = typer.Option("greensboro", "--trace-site"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object as the last line"),
) -> None:
    live = measure(hours, speed, interval, trace_date, site)
    estimate = sim_estimate(interval)
    result = {"live": live, "sim": estimate,
              "ratio_live_to_sim_direct": round(live["gas_per_inferer_day"]
                                                / estimate["gas_per_inferer_day_direct"], 3)}
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


if __name__ == "__main__":
    typer.run(main)
