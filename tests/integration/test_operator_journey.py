"""The operator journey of docs/testnet.md and docs/operators.md, on real processes: an anvil
standing in for Sepolia (chain id 11155111), fresh non-dev keys (test ETH as a Sepolia
faucet would give), `scripts/deploy.py --network sepolia` (testnet profile, a genesis model,
a referee), two operators who draw HELIO from the Faucet and `helio join --yes`, a
chain-backed gateway answering the OpenAI SDK, `helio status --mine`, a third operator
waiting for energy stopped by SIGTERM, `helio unstake` -> the unbonding delay -> `helio
withdraw`. No web3 written here: every step is a command an operator types.

Times go to the log (and docs/benchmarks.md, "Operators (issue #17)"): deploy -> first
answer, `helio join` -> online. ``HELIO_JOURNEY_REPORT=path`` writes them as JSON.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3.types import RPCEndpoint

from node.chain.anvil import Anvil, free_port
from node.chain.artifacts import ensure_compiled
from node.chain.connect import connect
from node.chain.profiles import PROFILES
from node.core.cid import cid_of_file
from node.core.paths import PROJECT_ROOT
from node.harness.swarm import LocalSwarm, SwarmProcess

pytestmark = [pytest.mark.slow, pytest.mark.chain, pytest.mark.model]
SEPOLIA = 11155111
MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Key:
    address: str
    private_key: str


def _fresh_key(rpc_url: str) -> Key:
    """A key nobody else knows, with test ETH (what a Sepolia ETH faucet gives)."""
    private_key = "0x" + secrets.token_hex(32)
    key = Key(Account.from_key(private_key).address, private_key)
    connect(rpc_url).provider.make_request(
        RPCEndpoint("anvil_setBalance"), [key.address, hex(10**20)])  # fmt: skip
    return key


def _helio(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """One `helio ...` command as an operator types it; its output, or the failure shown."""
    result = subprocess.run([sys.executable, "-m", "node.cli.main", *args], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert result.returncode == 0, f"helio {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return " ".join((result.stdout + result.stderr).split())


def _helio_all(envs: list[dict[str, str]], *args: str, timeout: float = 180) -> None:
    """The same `helio ...` command by several operators at once."""
    procs = [subprocess.Popen([sys.executable, "-m", "node.cli.main", *args], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for env in envs]  # fmt: skip
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"helio {' '.join(args)}:\n{out}"


def _spawn_gateway(env: dict[str, str], log_path: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "gateway", "--port", str(port), *args],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT, env=env,
            start_new_session=True)  # fmt: skip
    return popen, f"http://127.0.0.1:{port}"


def _wait_gateway(popen: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Until GET /v1/models lists the model (adopted on chain, served by the swarm)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert popen.poll() is None, f"the gateway exited:\n{log_path.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
                if MODEL in response.read().decode():
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"the gateway did not list {MODEL}:\n{log_path.read_text()[-3000:]}")


def _join(swarm: LocalSwarm, name: str, key: Key, identity: list[str], *args: str) -> SwarmProcess:
    """`helio join --yes` for one operator, as a swarm process (same log/ready handling).
    Each operator has a cache of its own (its join record goes there), the weights as
    `helio model fetch` would have left them (--model-dir)."""
    proc = SwarmProcess(name, ["join", "--yes", *identity, "--threads", "1", "--max-memory", "3GiB",
                               "--model-dir", str(swarm.model_dir),
                               *[a for p in swarm.initial_peers for a in ("--initial-peers", p)],
                               *args],
                        swarm.log_dir / f"{name}.log",
                        env={"HELIO_PRIVATE_KEY": key.private_key,
                             "HELIO_CACHE_DIR": str(swarm.log_dir / f"{name}-cache")})  # fmt: skip
    swarm._spawn(proc)  # the harness starts any `helio` command; it waits for the ready line
    swarm.inferers.append(proc)
    return proc


def _wait_log(proc: SwarmProcess, pattern: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, proc.log_path.read_text()):
            return
        assert proc.popen is not None and proc.popen.poll() is None, proc.log_path.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in {proc.log_path}:\n{proc.log_path.read_text()[-3000:]}")


def test_operator_journey_on_a_fresh_testnet(smollm2_dir: Path, tmp_path: Path) -> None:
    import openai

    ensure_compiled()
    times: dict[str, float] = {}
    with Anvil(chain_id=SEPOLIA) as anvil:
        deployer, referee, payee = (_fresh_key(anvil.rpc_url) for _ in range(3))
        operators = [_fresh_key(anvil.rpc_url) for _ in range(3)]
        base = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "HELIO_RPC_URL": anvil.rpc_url,
                "HELIO_NETWORK": "sepolia", "HELIO_CHAIN_ID": str(SEPOLIA),
                "HELIO_DEPLOYMENTS_DIR": str(tmp_path / "deployments")}  # fmt: skip
        base.pop("HELIO_PRIVATE_KEY", None)

        # 1. The deployer: testnet profile, the genesis model adopted, a referee (docs/testnet.md).
        started = time.monotonic()
        deploy = subprocess.run(
            [sys.executable, "scripts/deploy.py", "--network", "sepolia", "--genesis-model",
             cid_of_file(smollm2_dir / "manifest.json"), "--referee", referee.address],
            cwd=PROJECT_ROOT, env={**base, "HELIO_PRIVATE_KEY": deployer.private_key},
            capture_output=True, text=True, timeout=300)  # fmt: skip
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        assert f"did: registered and adopted {MODEL}" in deploy.stdout
        assert "profile testnet:" in deploy.stdout
        times["deploy_s"] = time.monotonic() - started

        # 2. Each operator draws HELIO the documented way (the Faucet).
        envs = [{**base, "HELIO_PRIVATE_KEY": op.private_key} for op in operators]
        _helio_all(envs, "wallet", "faucet")
        assert "2000 HELIO" in _helio(envs[0], "wallet", "balance")  # one drip: 2 000 HELIO

        def identity(name: str) -> list[str]:
            return ["--identity", str(tmp_path / f"{name}.key")]

        with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=2, rpc_url=anvil.rpc_url,
                        network="sepolia", extra_env=base) as swarm:  # fmt: skip
            swarm.start_bootstrap()
            # 3. Two operators join, energy-gated by a fixed 1.5 kW source; a third one is
            # under clouds (0 W). Started together, as volunteers would, beside the gateway.
            joined = time.monotonic()
            procs = [_join(swarm, f"op{i}", op, identity(f"op{i}"), "--energy", "fixed", "--energy-watts",
                           "1500", "--energy-window", "15") for i, op in enumerate(operators[:2])]  # fmt: skip
            waiting = _join(swarm, "op2", operators[2], identity("op2"), "--energy", "fixed",
                            "--energy-watts", "0", "--energy-window", "15")  # fmt: skip
            # 4. A gateway on the chain answers the OpenAI SDK (free tier).
            gw_env = {**base, "HELIO_GATEWAY_PAYEE_KEY": payee.private_key,
                      "HELIO_GATEWAY_REFEREE_KEY": referee.private_key}  # fmt: skip
            gw_log = tmp_path / "logs" / "gateway.log"
            gateway, url = _spawn_gateway(gw_env, gw_log, [
                "--rpc-url", anvil.rpc_url, "--network", "sepolia", "-m", MODEL,
                *[a for p in swarm.initial_peers for a in ("--initial-peers", p)]])  # fmt: skip
            try:
                swarm.wait_ready(procs, timeout=240)
                times["join_to_online_s"] = time.monotonic() - joined
                for proc, op in zip(procs, operators, strict=False):
                    log = " ".join(proc.log_path.read_text().split())
                    assert "the whole model: 30 of 30 blocks" in log
                    assert f"identity: {proc.peer_id}" in log  # the peer id join showed is the one serving
                    record = json.loads((swarm.log_dir / f"{proc.name}-cache" / "join" / f"{op.address}.json").read_text())
                    assert record["caps"]["threads"] == 1 and record["caps"]["max_memory"] == 3 * 1024**3
                    assert record["plan"]["span_blocks"] == 30 and record["energy"] == "fixed"
                _wait_gateway(gateway, url, gw_log)
                client = openai.OpenAI(base_url=f"{url}/v1", api_key="free-tier", max_retries=0)
                answer = client.chat.completions.create(
                    model=MODEL, max_tokens=8, temperature=0.0,
                    messages=[{"role": "user", "content": "What is the capital of France?"}])  # fmt: skip
                times["deploy_to_first_answer_s"] = time.monotonic() - started
                assert answer.choices[0].message.content
            finally:
                os.killpg(gateway.pid, signal.SIGTERM)
                gateway.wait(30)

            # 5. An operator sees its own stake.
            op0 = {**base, "HELIO_PRIVATE_KEY": operators[0].private_key}
            mine = _helio(op0, "status", "--mine")
            assert "1000" in mine, mine  # the testnet minimum, bonded by join

            # 6. The operator under clouds still waits for energy; SIGTERM stops it in 5 s.
            _wait_log(waiting, "waiting for energy", 240)
            assert waiting.popen is not None
            stop = time.monotonic()
            os.killpg(waiting.popen.pid, signal.SIGTERM)
            assert waiting.popen.wait(10) == 0
            times["sigterm_while_waiting_s"] = time.monotonic() - stop
            assert times["sigterm_while_waiting_s"] < 5
            assert re.search(r"offline report posted on-chain: tx 0x[0-9a-f]{64}",
                             waiting.log_path.read_text())  # fmt: skip

        # 7. Leaving: unstake, the testnet unbonding delay, withdraw.
        _helio(op0, "unstake", "1000")
        w3 = connect(anvil.rpc_url)
        w3.provider.make_request("evm_increaseTime", [PROFILES["testnet"].unbonding_delay_s])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        assert "withdrew 1000 HELIO" in _helio(op0, "withdraw")
    print("operator journey times:", json.dumps({k: round(v, 1) for k, v in times.items()}))
    if report := os.environ.get("HELIO_JOURNEY_REPORT"):
        Path(report).write_text(json.dumps(times, indent=2) + "\n")
