"""Issue #13 end to end, the demo's kind of network: anvil with the contracts deployed from
source, four staked SmolLM2 inferers as real processes (one cheating:
HELIO_TEST_ADVERSARY=noise, test only) and two real ``helio gateway`` processes answering
the OpenAI SDK.

Gateway A embeds a referee that spot-checks every answer (HELIO_GATEWAY_SPOT_CHECK_RATE=1)
as a verifier (HELIO_GATEWAY_REFEREE_KEY holds VERIFIER_ROLE and stake): after its first
answer, which went through the cheater (it announces the highest throughput), it replays
the cheater's hop on the two honest inferers of the same blocks and files the fraud claim
on chain. A second verifier confirms with ``helio verify confirm``, the challenge window
passes (anvil time warp) and ``helio verify slash`` executes: the cheater is jailed and
loses stake, the honest inferers keep theirs.

Gateway B runs no referee: it routed through the cheater too, and only the chain tells it
to stop (its stake cache reads the Jailed event: node/referee/stake.py). After the slash
both gateways still answer and neither routes through the cheater again: their route
accounting (``/v1/contributions``) gives it no more work and the cheater's own metrics
show no new session; the honest inferers' answers pass their spot-checks on chain.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from web3 import Web3

from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.anvil import free_port
from node.chain.bindings import HelioChain
from node.chain.connect import local_account
from node.chain.deployment import Deployment
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.core.paths import PROJECT_ROOT
from node.harness.swarm import LocalSwarm

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.chain]
MODEL = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "Name three colors."}]
REPORTER, CONFIRMER = 6, 7  # anvil dev keys: VERIFIER_ROLE at deployment, staked below
INFERERS = {  # name: (blocks, dev key, announced tokens/s)
    "cheater": ((0, 10), 2, 500.0),  # the fastest claim: every planner prefers it
    "honest-a": ((0, 10), 3, 20.0),
    "honest-b": ((0, 10), 4, 20.0),
    "tail": ((10, 30), 5, 20.0),
}


@dataclass
class Network:
    w3: Web3
    deployment: Deployment
    rpc_url: str
    env: dict[str, str]  # what every `helio` command of this network needs
    referee_gateway: str  # gateway A's base URL (spot-checks, on chain)
    plain_gateway: str  # gateway B's (no referee)
    cheater_metrics: int  # the cheater's Prometheus port
    alive: Callable[[], None]  # raises with its log if a gateway died

    def chain(self, dev_key: int | None = None) -> HelioChain:
        account = local_account(DEV_ACCOUNTS[dev_key].private_key) if dev_key is not None else None
        return HelioChain(self.w3, self.deployment, account)


def address(name: str) -> str:
    return DEV_ACCOUNTS[INFERERS[name][1]].address


ADDRESSES = [address(name) for name in INFERERS]


def until(what: str, check: Callable[[], Any], timeout: float, alive: Callable[[], None]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        alive()
        if value := check():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


class Gateways:
    """``helio gateway`` processes, each in its own process group (killed at the end)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> str:
        port = free_port()
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "node.cli.main", "gateway", "--port", str(port), *args],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT,
                start_new_session=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                                             **env})
        return f"http://127.0.0.1:{port}"

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"gateway {name} exited ({proc.returncode}):\n{tail}")

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture(scope="module")
def network(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    ensure_compiled()
    tmp = tmp_path_factory.mktemp("integrity-gateway")
    env = {"HELIO_DEPLOYMENTS_DIR": str(tmp / "deployments")}
    metrics_port = free_port()
    with Anvil() as anvil, contextlib.ExitStack() as stack:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        verifiers = tuple(DEV_ACCOUNTS[k].address for k in (REPORTER, CONFIRMER))
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=tmp / "deployments",
                                referees=verifiers)
        for key in (REPORTER, CONFIRMER):  # a verifier must be an active staker to post
            HelioChain(w3, deployment, local_account(DEV_ACCOUNTS[key].private_key)).staking.ensure_staked(
                peer_id=f"12D3KooWverifier{key}", attestation_key=DEV_ACCOUNTS[key].address,
                region="UTC", capacity=1)
        swarm = stack.enter_context(LocalSwarm(smollm2_dir, tmp / "logs", rpc_url=anvil.rpc_url,
                                               network="test", extra_env=env))
        swarm.start_bootstrap()
        for name, (blocks, key, throughput) in INFERERS.items():
            args = ["--throughput", str(throughput)]
            if name == "cheater":
                args += ["--metrics-port", str(metrics_port)]
            swarm.start_inferer(blocks, name=name, dev_key=key, wait=False, extra_args=args,
                                extra_env={"HELIO_TEST_ADVERSARY": "noise"} if name == "cheater" else None)
        gateways = Gateways(tmp / "logs")
        stack.callback(gateways.close)
        chain_args = ["--rpc-url", anvil.rpc_url, "--network", "test", "--model", MODEL,
                      *[a for m in swarm.initial_peers for a in ("-p", m)]]
        common = {**env, "HELIO_GATEWAY_FREE_REQUESTS_PER_MINUTE": "1000"}
        # two operators: each gateway has its own payment desk
        referee_url = gateways.start("gateway-referee", chain_args, {
            **common, "HELIO_GATEWAY_SPOT_CHECK_RATE": "1.0", "HELIO_GATEWAY_DESK_PATH": str(tmp / "desk-a.sqlite"),
            "HELIO_GATEWAY_REFEREE_KEY": DEV_ACCOUNTS[REPORTER].private_key})
        plain_url = gateways.start("gateway-plain", chain_args, {
            **common, "HELIO_GATEWAY_SPOT_CHECK_RATE": "0", "HELIO_GATEWAY_DESK_PATH": str(tmp / "desk-b.sqlite"),
            "HELIO_GATEWAY_PAYEE_KEY": DEV_ACCOUNTS[8].private_key})
        swarm.wait_ready(timeout=240)
        for url in (referee_url, plain_url):  # listing the model, every inferer in its DHT view
            until(f"{url} to list {MODEL}", partial(_lists_model, url), 240, gateways.check_alive)
            until(f"{url} to see every inferer", partial(_sees_all, url), 60, gateways.check_alive)
        yield Network(w3, deployment, anvil.rpc_url, env, referee_url, plain_url, metrics_port,
                      gateways.check_alive)


def _sees_all(url: str) -> bool:
    """Does the gateway's dashboard (its DHT view) show every inferer online?"""
    try:
        (model,) = httpx.get(f"{url}/api/swarm", timeout=10).json()["models"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return {s["address"] for s in model["servers"] if s["state"] == "online"} >= set(ADDRESSES)


def _lists_model(url: str) -> bool:
    try:
        return MODEL in [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=5).json()["data"]]
    except (httpx.HTTPError, KeyError, ValueError):
        return False


def ask(url: str) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="free", max_retries=0, timeout=120)
    answer = client.chat.completions.create(model=MODEL, messages=QUESTION,  # type: ignore[arg-type]
                                            max_tokens=3, temperature=0)
    assert answer.usage is not None and answer.usage.completion_tokens > 0, answer
    return answer.choices[0].message.content or ""


def work(url: str) -> dict[str, int]:
    """The gateway's route accounting: block-tokens per inferer address (lowercase)."""
    current = httpx.get(f"{url}/v1/contributions", timeout=10).json()["current_work"]
    return {a.lower(): int(w) for a, w in current.items()}


def sessions_opened(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "heliomesh_inferer_sessions_opened_total")


def helio(network: Network, *args: str) -> str:
    """One `helio ...` command as a verifier types it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **network.env}
    env.pop("HELIO_PRIVATE_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "node.cli.main", *args, "--rpc-url", network.rpc_url,
                           "--network", "test"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"helio {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", ["0x1"])  # type: ignore[arg-type]


def test_a_cheater_behind_the_gateway_is_claimed_slashed_jailed_and_no_longer_routed_to(
        network: Network) -> None:
    cheater = address("cheater")
    honest = [address(n) for n in ("honest-a", "honest-b", "tail")]
    chain = network.chain()
    stakes = {a: chain.staking.stake_of(a).self_stake for a in (cheater, *honest)}

    # --- both gateways answer through the cheater ---------------------------------------------
    ask(network.referee_gateway)
    ask(network.plain_gateway)
    assert work(network.referee_gateway).get(cheater.lower(), 0) > 0
    assert work(network.plain_gateway).get(cheater.lower(), 0) > 0

    # --- gateway A's referee re-executes the cheater's hop and files the claim on chain -------
    until("the referee's fraud claim", lambda: chain.verification.claim_count() > 0, 180, network.alive)
    (claim_id,) = range(chain.verification.claim_count())
    claim = chain.verification.claim(claim_id)
    assert claim.accused == cheater and claim.status == "open"
    assert claim.reporter == DEV_ACCOUNTS[REPORTER].address  # the gateway's referee key
    assert chain.staking.is_frozen(cheater)
    assert chain.verification.reputation_total(cheater)[1] >= 1  # its failed spot-check

    # --- a second verifier confirms; the window passes; anyone executes the slash -------------
    helio(network, "verify", "confirm", str(claim_id), "--dev-account", str(CONFIRMER))
    warp(network.w3, ChainParams().challenge_window_s + 1)
    assert "slashed" in helio(network, "verify", "slash", str(claim_id), "--dev-account", str(CONFIRMER))
    assert chain.verification.claim_status(claim_id) == "slashed"
    assert chain.staking.is_jailed(cheater) and not chain.staking.is_active(cheater)
    assert chain.staking.stake_of(cheater).self_stake < stakes[cheater]
    for a in honest:
        assert chain.staking.stake_of(a).self_stake == stakes[a], a
        assert not chain.staking.is_jailed(a) and chain.staking.is_active(a), a

    # --- both gateways still answer, never through the cheater -------------------------------
    before = {url: work(url) for url in (network.referee_gateway, network.plain_gateway)}
    opened = sessions_opened(network.cheater_metrics)
    for url in (network.plain_gateway, network.referee_gateway, network.plain_gateway):
        ask(url)
    for url, was in before.items():
        now = work(url)
        assert now.get(cheater.lower(), 0) == was.get(cheater.lower(), 0), url
        assert sum(now.values()) > sum(was.values()), url  # the answers went through others
    assert sessions_opened(network.cheater_metrics) == opened
    until("a passed spot-check of an honest inferer on chain",  # gateway A's audit of its answer
          lambda: any(chain.verification.reputation_total(a)[0] for a in honest[:2]), 60, network.alive)
