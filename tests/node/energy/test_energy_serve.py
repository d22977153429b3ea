"""`helio node serve --energy fronius --energy-opt …` as a real process: the inferer reads
an inverter's datalogger (a local HTTP server answering the Fronius Solar API shape),
goes online on its headroom and announces the signed report in its DHT record; options
the adapter does not take stop it at start with a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from node.client.swarm_client import SwarmClient
from node.energy.state import InfererState
from node.harness.swarm import LocalSwarm, LocalSwarmError

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
# A meterless site at noon: 3 kW of PV, the battery at 80 %; the house load comes from
# --energy-opt house_w (no meter reports it); the report's headroom is what is left beyond
# the house and the machine's own idle draw (--idle-watts 90): 3000 - 400 - 90 W.
PRODUCE_ONLY = {
    "Body": {"Data": {"Inverters": {"1": {"DT": 1, "P": 3000.0, "SOC": 80.0}},
                      "Site": {"Mode": "produce-only", "P_Akku": None, "P_Grid": None,
                               "P_Load": None, "P_PV": 3000.0}}},
    "Head": {"Status": {"Code": 0}},
}


def test_serve_reads_a_fronius_datalogger_and_announces_its_headroom(
        fronius_server, smollm2_dir: Path, tmp_path: Path) -> None:
    fronius_server.doc = PRODUCE_ONLY
    with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=2) as swarm:
        swarm.start_bootstrap()
        inferer = swarm.start_inferer((0, 30), extra_args=[
            "--energy", "fronius", "--energy-opt", "host=127.0.0.1",
            "--energy-opt", f"port={fronius_server.port}", "--energy-opt", "house_w=400",
            "--machine-watts", "250", "--idle-watts", "90",
            # --energy-enforce (the default): online once the averaged headroom allows;
            # a 15 s window (3 polls, the shortest) instead of 45 s keeps the test short
            "--energy-window", "15", "--throughput", "50"])
        with SwarmClient(swarm.initial_peers) as client:
            records = client.records(MODEL, 30)
            (claim,) = client.energy.observe([records[inferer.peer_id]])
    assert claim.state is InfererState.ONLINE
    assert (claim.available_w, claim.headroom_w, claim.battery_soc) == (3000.0, 2510.0, 0.8)
    assert claim.capacity == 8  # 2510 W carries a 250 W machine at full load
    assert fronius_server.requests >= 1


def test_options_the_adapter_does_not_take_stop_the_inferer_at_start(
        smollm2_dir: Path, tmp_path: Path) -> None:
    with LocalSwarm(smollm2_dir, tmp_path / "logs") as swarm:
        swarm.start_bootstrap()
        with pytest.raises(LocalSwarmError, match="bad options") as err:
            swarm.start_inferer((0, 30), extra_args=["--energy", "sunspec", "--energy-opt", "hots=10.0.0.5"])
        assert "sunspec" in str(err.value)
        with pytest.raises(LocalSwarmError, match="--energy-window must be within"):
            swarm.start_inferer((0, 30), extra_args=["--energy", "fixed", "--energy-window", "0"])
        with pytest.raises(LocalSwarmError, match=r"need 0 <= idle_w \(400.0\) <= power_w \(300.0\)"):
            swarm.start_inferer((0, 30), extra_args=["--energy", "fixed", "--idle-watts", "400"])
    refused = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "node", "serve", "--model-dir", str(smollm2_dir),
         "--blocks", "0:30", "--energy-opt", "host=10.0.0.5"],
        capture_output=True, text=True, timeout=120,
    )
    assert refused.returncode != 0 and "--energy-opt needs --energy ADAPTER" in refused.stdout + refused.stderr
