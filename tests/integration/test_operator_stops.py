"""Clean stops on real processes (issue #17, item 5): SIGTERM is honoured in every state,
also when the whole process group gets it at once, as systemd's default
``KillMode=control-group`` does (p2pd dies beside us and never answers again)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.core.paths import PROJECT_ROOT

pytestmark = [pytest.mark.slow]
MODEL = "smollm2-135m-instruct"


def _wait_for(path: Path, pattern: str, timeout: float, proc: subprocess.Popen[str] | None = None) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if re.search(pattern, text):
            return text
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode} before {pattern!r}:\n{text[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} within {timeout} s in {path}:\n{path.read_text()[-3000:]}")


def test_bootstrap_exits_promptly_when_its_process_group_gets_sigterm(tmp_path: Path) -> None:
    """Before: leaving the DHT waited forever on the dead p2pd (still there after 100 s)."""
    log_path = tmp_path / "bootstrap.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "bootstrap"], cwd=PROJECT_ROOT,
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        _wait_for(log_path, "HELIO_BOOTSTRAP", 120, proc)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)  # the whole group: helio and its p2pd
        assert proc.wait(20) == 0
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert took < 10, f"took {took:.1f} s"
    assert "bootstrap peer stopped" in log_path.read_text()


@pytest.mark.chain
@pytest.mark.model
def test_inferer_waiting_for_energy_stops_within_5s_with_an_offline_report(
        smollm2_dir: Path, tmp_path: Path) -> None:
    """An inferer held back by the energy gate (0 W: it never goes online) gets SIGTERM
    on its whole process group: it exits within 5 s, and the offline report it posts on
    the way out is on-chain in the transaction its log names. Before: SIGTERM was ignored
    until SIGKILL while it waited, and no report was posted."""
    from node.chain import Anvil, connect, deploy_all, ensure_compiled
    from node.chain.bindings import HelioChain
    from node.chain.devkeys import DEV_ACCOUNTS
    from node.energy.state import InfererState
    from node.harness.swarm import LocalSwarm
    from node.swarm.identity import peer_id_of

    ensure_compiled()
    deployments = tmp_path / "deployments"
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=anvil.chain_id)
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "local", directory=deployments)
        chain = HelioChain.open(w3, "local", None, deployments)
        with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=2, rpc_url=anvil.rpc_url,
                        extra_env={"HELIO_DEPLOYMENTS_DIR": str(deployments)}) as swarm:
            swarm.start_bootstrap()
            key_file = tmp_path / "node.key"  # created on first run: the peer id it registers
            proc = swarm.start_inferer((0, 2), dev_key=5, wait=False, extra_args=[
                "--energy", "fixed", "--energy-watts", "0", "--throughput", "100",
                "--identity", str(key_file)])
            _wait_for(proc.log_path, "waiting for energy", 180, proc.popen)
            me = DEV_ACCOUNTS[5].address
            assert chain.staking.node_of(me).peer_id == peer_id_of(key_file)
            before = len(chain.energy.c.events.EnergyReported().get_logs(from_block=0))
            assert proc.popen is not None
            started = time.monotonic()
            os.killpg(proc.popen.pid, signal.SIGTERM)  # as systemd stops a unit
            assert proc.popen.wait(10) == 0
            took = time.monotonic() - started
        log = proc.log_path.read_text()
        assert took < 5, f"took {took:.1f} s"
        found = re.search(r"offline report posted on-chain: tx (0x[0-9a-f]{64})", log)
        assert found, log[-3000:]
        receipt = w3.eth.get_transaction_receipt(found.group(1))
        (event,) = chain.energy.c.events.EnergyReported().process_receipt(receipt)
        assert event.args.inferer == me and event.args.state == InfererState.OFFLINE
        assert len(chain.energy.c.events.EnergyReported().get_logs(from_block=0)) == before + 1
        assert not proc.ready.is_set()  # it never went online
