"""Adoption reaches serving with no restart (issue #15 item 3), on real processes: anvil
with the contracts, an embedded-IPFS publisher, two inferers started with
``--follow-registry`` and a chain-backed gateway.

Both inferers start on the adopted SmolLM2. Gemma-3-270m is then adopted — here by the
Timelock directly (anvil impersonation), since this test is about what happens after
adoption; the governance vote itself is covered in tests/contracts. Without restarting
any process one inferer moves to Gemma (fetching only Gemma's blocks over IPFS), the
gateway fetches Gemma's client files by the registry's manifest CID, lists it and answers
"Paris"; after deprecation the server drains and returns to SmolLM2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from eth_account import Account
from web3 import Web3

from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.anvil import free_port
from node.chain.bindings import HelioChain
from node.chain.devkeys import DEV_ACCOUNTS
from node.client.swarm_client import SwarmClient
from node.core.paths import PROJECT_ROOT
from node.harness.swarm import LocalSwarm
from node.ipfs import open_store, publish_model
from node.swarm.records import ServerState

pytestmark = [pytest.mark.slow, pytest.mark.model]
SMOL, GEMMA = "smollm2-135m-instruct", "gemma3-270m"
GEMMA_PROMPT = "Question: What is the capital of France?\nAnswer:"  # a base model: plain text


def _until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if value := check():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1.0)


def _as_timelock(w3: Web3, timelock: str, call: Any) -> None:
    w3.provider.make_request("anvil_impersonateAccount", [timelock])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_setBalance", [timelock, hex(10**19)])  # type: ignore[arg-type]
    try:
        tx = w3.eth.send_transaction(call.build_transaction({"from": timelock}))
        assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    finally:
        w3.provider.make_request("anvil_stopImpersonatingAccount", [timelock])  # type: ignore[arg-type]


def _live(swarm: SwarmClient, model_id: str, num_blocks: int) -> set[str]:
    return {r.address for r in swarm.records(model_id, num_blocks).values()
            if r.state == ServerState.ONLINE}


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[Callable[[list[str], dict[str, str]], str]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str]) -> str:
        port = free_port()
        log = open(tmp_path / "gateway.log", "ab")  # noqa: SIM115 - the child owns it
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "gateway", "--port", str(port), *args],
            stdout=log, stderr=log, cwd=PROJECT_ROOT, start_new_session=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env}))
        log.close()
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_an_adopted_model_is_served_without_restarts_and_a_deprecated_one_is_released(
        smollm2_dir: Path, gemma3_dir: Path, tmp_path: Path,
        gateway_process: Callable[[list[str], dict[str, str]], str]) -> None:
    ensure_compiled()
    deployments = tmp_path / "deployments"
    env = {"HELIO_DEPLOYMENTS_DIR": str(deployments)}
    with Anvil() as anvil, open_store("embedded", data_dir=tmp_path / "publisher") as publisher:
        w3 = connect(anvil.rpc_url)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=deployments)
        helio = HelioChain(w3, deployment)
        assert helio.models.adopted_models() == [SMOL]
        assert publish_model(smollm2_dir, publisher).manifest_cid == \
            helio.models.model(SMOL)["manifest_cid"]
        gemma_cid = publish_model(gemma3_dir, publisher).manifest_cid
        seed = publisher.addrs()[0]

        with LocalSwarm(smollm2_dir, tmp_path / "logs", rpc_url=anvil.rpc_url, network="test",
                        extra_env=env) as swarm:
            swarm.start_bootstrap()
            followers = [swarm.start_inferer(
                None, name=f"follower{i}", dev_key=2 + i, wait=False,
                extra_args=["--follow-registry", "--follow-period", "3", "--ipfs-peer", seed,
                            "--throughput", "10"],
                extra_env={"HELIO_CACHE_DIR": str(tmp_path / f"cache{i}")}) for i in range(2)]
            swarm.wait_ready(followers, timeout=300)
            addresses = {DEV_ACCOUNTS[2].address, DEV_ACCOUNTS[3].address}
            with SwarmClient(swarm.initial_peers) as dht:
                _until("both followers on SmolLM2", lambda: _live(dht, SMOL, 30) == addresses, 120)
                url = gateway_process(
                    ["--rpc-url", anvil.rpc_url, "--network", "test", "--model", SMOL,
                     "--ipfs-peer", seed, *[a for m in swarm.initial_peers for a in ("-p", m)]],
                    {**env, "HELIO_GATEWAY_FREE_REQUESTS_PER_MINUTE": "1000"})
                client = openai.OpenAI(base_url=url, api_key="free", max_retries=0, timeout=120)
                _until("the gateway", lambda: _models(client) == [SMOL], 180)

                # --- adoption -------------------------------------------------------------
                models = helio.models.with_account(Account.from_key(DEV_ACCOUNTS[5].private_key))
                models.propose(GEMMA, gemma_cid, "gemma", "gemma3", min_memory_mb=2048,
                               energy_mj_per_token=100, max_latency_ms=2000,
                               royalty_recipient=DEV_ACCOUNTS[5].address)
                key = models.c.functions.keyOf(GEMMA).call()
                adopted_at = time.monotonic()
                _as_timelock(w3, deployment.address("HelioTimelock"), models.c.functions.adopt(key))

                mover = _until("one follower on Gemma", lambda: _live(dht, GEMMA, 18), 300)
                assert len(mover) == 1 and mover < addresses
                # the mover drains its SmolLM2 inferer; the other one stays
                _until("the mover off SmolLM2", lambda: _live(dht, SMOL, 30) == addresses - mover, 120)
                _until("Gemma in /v1/models", lambda: GEMMA in _models(client), 180)
                answer = client.completions.create(model=GEMMA, prompt=GEMMA_PROMPT,
                                                   max_tokens=4, temperature=0)
                first_token_s = time.monotonic() - adopted_at
                assert "Paris" in (answer.choices[0].text or ""), answer
                print(f"adoption -> first answer: {first_token_s:.1f} s")
                assert all(f.alive for f in followers)  # nothing restarted

                # --- deprecation ------------------------------------------------------------
                _as_timelock(w3, deployment.address("HelioTimelock"),
                             models.c.functions.deprecate(key))
                _until("the Gemma server back on SmolLM2",
                       lambda: _live(dht, SMOL, 30) == addresses and not _live(dht, GEMMA, 18), 300)
                _until("Gemma gone from /v1/models", lambda: GEMMA not in _models(client), 90)
                assert all(f.alive for f in followers)


def _models(client: openai.OpenAI) -> list[str]:
    try:
        return [m.id for m in client.models.list().data]
    except openai.APIError:
        return []
