"""Any model, chosen by vote (issue #15), end to end on real processes: anvil with the
contracts, the model creator's embedded-IPFS node, three staked inferers started with
``--follow-registry`` serving SmolLM2, and a chain-backed gateway.

Every governance step is a ``helio`` command in its own process (no web3 written here):
the creator converts, publishes (its IPFS node seeds the weights), proposes; inferers
evaluate and post benchmarks; a holder who runs no node delegates to an inferer;
inferers vote; anyone queues and executes. Time is warped on anvil (``anvil_mine``,
``evm_increaseTime``) where a real chain would wait. Without restarting any inferer or
the gateway, one inferer moves to the new model (fetching only its blocks), the gateway
lists it and an OpenAI SDK request to it answers. Deprecation is a vote too (``helio
model deprecate``, ``vote``, ``queue``, ``execute``), and the server drains back to
SmolLM2.

Two models share one swarm (module-scoped): Gemma-3-270m, a base model converted from
its GGUF (answers "Paris"); and a tiny random llama the creator brings as a transformers
checkpoint (``save_pretrained`` in shards, ``helio model convert --hf-dir``), whose
answer through the gateway must equal transformers' own greedy decode.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from web3 import Web3

from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.anvil import free_port
from node.chain.bindings import HelioChain
from node.chain.devkeys import DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.client.swarm_client import SwarmClient
from node.core.paths import PROJECT_ROOT
from node.harness.swarm import LocalSwarm, SwarmProcess
from node.ipfs.publish import manifest_cid
from node.swarm.records import ServerState

pytestmark = [pytest.mark.slow, pytest.mark.model]
SMOL, GEMMA, TINY = "smollm2-135m-instruct", "gemma3-270m", "tiny-llama-hf"
GEMMA_PROMPT = "Question: What is the capital of France?\nAnswer:"  # a base model: plain text
FOLLOWER_KEYS = (2, 3, 4)  # anvil dev accounts of the three inferers
CREATOR, HOLDER, ANYONE = 5, 6, 7  # the model creator, a holder who runs no node, a bystander
P = ChainParams()


def _until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if value := check():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1.0)


def _live(dht: SwarmClient, model_id: str, num_blocks: int) -> set[str]:
    return {r.address for r in dht.records(model_id, num_blocks).values()
            if r.state == ServerState.ONLINE}


def _models(client: openai.OpenAI) -> list[str]:
    try:
        return [m.id for m in client.models.list().data]
    except openai.APIError:
        return []


def _kill(proc: subprocess.Popen[Any] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@dataclass
class World:
    """The module's chain, creator node, swarm and gateway (started once)."""

    tmp: Path
    rpc_url: str
    w3: Web3
    chain: HelioChain
    env: dict[str, str]  # what every `helio` subprocess gets
    creator_cache: Path
    seed_port: int
    swarm: LocalSwarm
    followers: list[SwarmProcess]
    dht: SwarmClient
    client: openai.OpenAI
    seeder: subprocess.Popen[str] | None = None
    seed_addr: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    # --- `helio` as a user runs it ----------------------------------------------------
    def helio(self, *args: str, dev: int | None = None, chain: bool = True, ok: bool = True) -> str:
        cmd = [sys.executable, "-m", "node.cli.main", *args]
        if chain:
            cmd += ["--rpc-url", self.rpc_url, "--network", "test"]
        if dev is not None:
            cmd += ["--dev-account", str(dev)]
        began = time.monotonic()
        done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)
        out = " ".join((done.stdout + done.stderr).split())
        print(f"  helio {' '.join(args[:3])} (dev {dev}): {time.monotonic() - began:.1f} s")
        assert (done.returncode == 0) == ok, f"helio {' '.join(args)} -> {done.returncode}: {out}"
        return out

    def parallel(self, *calls: tuple[tuple[str, ...], dict[str, Any]]) -> list[str]:
        """Several `helio` commands at once (separate users; each its own process)."""
        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(lambda c: self.helio(*c[0], **c[1]), calls))

    def publish_and_seed(self, model_id: str) -> str:
        """The creator's IPFS node: `helio model publish MODEL --serve` over one repo and one
        port, so the address the inferers were given stays valid (a restart re-adds the new
        model; what it published before stays pinned and seeded). Returns the manifest CID."""
        if self.seeder is not None:
            self.seeder.send_signal(signal.SIGTERM)
            self.seeder.wait(60)
        log = open(self.tmp / "seeder.log", "a")  # noqa: SIM115 - the child owns it
        self.seeder = subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "model", "publish", model_id, "--serve", "--json",
             "--data-dir", str(self.tmp / "creator-node"),
             "--listen", f"/ip4/127.0.0.1/tcp/{self.seed_port}"],
            cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True,
            start_new_session=True)
        log.close()
        assert self.seeder.stdout is not None
        line = self.seeder.stdout.readline()  # one JSON object once published
        assert line, f"publish exited: {(self.tmp / 'seeder.log').read_text()[-2000:]}"
        published = json.loads(line)
        addr = next(a for a in published["addrs"] if f"/tcp/{self.seed_port}" in a)
        self.seed_addr = f"{addr}/p2p/{published['peer_id']}" if "/p2p/" not in addr else addr
        return str(published["manifest_cid"])

    def mine(self, blocks: int = 1, seconds: int = 0) -> None:
        if seconds:
            self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    # --- the adoption, every step a `helio` command -------------------------------------
    def evaluate(self, model_id: str, model_dir: Path, dev: int, memory_mb: str) -> str:
        """An inferer benchmarks the proposed model (its files checked against the CID on
        chain) and posts the result with the memory it offers."""
        return self.helio("model", "evaluate", model_id, "--model-dir", str(model_dir),
                          "--watts", "10", "--memory-mb", memory_mb, "--decode-tokens", "4",
                          "--quality-tokens", "32", "--threads", "1", dev=dev)

    def vote_to_adoption(self, model_id: str, voters: tuple[int, ...]) -> tuple[float, list[str]]:
        """The creator opens the vote, inferers vote, anyone queues and executes; returns
        the time of execute and what each voter was told."""
        out = self.helio("model", "vote", model_id, "--open", dev=CREATOR)
        assert f"vote on {model_id} is open" in out, out
        self.mine(P.voting_delay_blocks + 1)
        votes = self.parallel(*((("model", "vote", model_id), {"dev": d}) for d in voters))
        assert all(f"voted for on {model_id}" in v for v in votes), votes
        self.mine(P.voting_period_blocks + 1)
        assert f"queued the adoption of {model_id}" in self.helio("model", "queue", model_id, dev=ANYONE)
        self.mine(1, seconds=P.timelock_delay_s + 1)
        out = self.helio("model", "execute", model_id, dev=ANYONE)
        assert f"executed: {model_id} is adopted" in out, out
        return time.monotonic(), votes

    def served(self, model_id: str, num_blocks: int) -> set[str]:
        """Wait until inferers serve the whole new model and SmolLM2 stays covered."""
        everyone = {DEV_ACCOUNTS[k].address for k in FOLLOWER_KEYS}
        mover = _until(f"a follower on {model_id}", lambda: _live(self.dht, model_id, num_blocks), 300)
        assert mover < everyone
        _until("the mover off SmolLM2", lambda: _live(self.dht, SMOL, 30) == everyone - mover, 120)
        _until(f"{model_id} in /v1/models", lambda: model_id in _models(self.client), 180)
        return set(mover)


@pytest.fixture(scope="module")
def world(smollm2_dir: Path, gemma3_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ensure_compiled()
    tmp = tmp_path_factory.mktemp("follow")
    deployments = tmp / "deployments"
    # The creator's cache holds SmolLM2 and Gemma already converted (linked from the shared
    # cache: a fresh GGUF conversion takes minutes here); `helio model convert` checks
    # every file against the manifest and reuses them.
    creator_cache, gateway_cache = tmp / "creator-cache", tmp / "gateway-cache"
    for cache, directory in ((creator_cache, smollm2_dir), (creator_cache, gemma3_dir),
                             (gateway_cache, smollm2_dir)):  # the gateway starts on SmolLM2
        (cache / "models" / directory.parent.name).mkdir(parents=True)
        (cache / "models" / directory.parent.name / directory.name).symlink_to(directory)
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("HELIO_PRIVATE_KEY", "HELIO_CHAIN_ID", "HELIO_NETWORK")}
    chain_env = {"HELIO_DEPLOYMENTS_DIR": str(deployments)}
    env = {**base_env, **chain_env, "HELIO_CACHE_DIR": str(creator_cache), "COLUMNS": "400",
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    gateway: subprocess.Popen[bytes] | None = None
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=deployments)
        helio = HelioChain(w3, deployment)
        assert helio.models.adopted_models() == [SMOL]
        started = time.monotonic()
        world = World(tmp, anvil.rpc_url, w3, helio, env, creator_cache, free_port(),
                      None, [], None, None)  # type: ignore[arg-type]
        try:
            # the creator's node seeds SmolLM2 (the genesis model) from the start
            assert world.publish_and_seed(SMOL) == helio.models.model(SMOL)["manifest_cid"]
            with LocalSwarm(smollm2_dir, tmp / "logs", rpc_url=anvil.rpc_url, network="test",
                            extra_env=chain_env) as swarm:
                swarm.start_bootstrap()
                world.swarm = swarm
                world.followers = [swarm.start_inferer(
                    None, name=f"follower{k}", dev_key=k, wait=False,
                    extra_args=["--follow-registry", "--follow-period", "3", "--ipfs-peer",
                                world.seed_addr, "--throughput", "10"],
                    extra_env={"HELIO_CACHE_DIR": str(tmp / f"cache{k}")}) for k in FOLLOWER_KEYS]
                swarm.wait_ready(world.followers, timeout=300)
                everyone = {DEV_ACCOUNTS[k].address for k in FOLLOWER_KEYS}
                with SwarmClient(swarm.initial_peers) as dht:
                    world.dht = dht
                    _until("three followers on SmolLM2", lambda: _live(dht, SMOL, 30) == everyone, 180)
                    port = free_port()
                    log = open(tmp / "gateway.log", "ab")  # noqa: SIM115 - the child owns it
                    gateway = subprocess.Popen(
                        [sys.executable, "-m", "node.cli.main", "gateway", "--port", str(port),
                         "--rpc-url", anvil.rpc_url, "--network", "test", "--model", SMOL,
                         "--ipfs-peer", world.seed_addr,
                         *[a for m in swarm.initial_peers for a in ("-p", m)]],
                        stdout=log, stderr=log, cwd=PROJECT_ROOT, start_new_session=True,
                        env={**env, "HELIO_CACHE_DIR": str(gateway_cache),
                             "HELIO_GATEWAY_FREE_REQUESTS_PER_MINUTE": "1000"})
                    log.close()
                    world.client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1",
                                                 api_key="free", max_retries=0, timeout=120)
                    _until("the gateway", lambda: _models(world.client) == [SMOL], 180)
                    world.timings["swarm + gateway up"] = time.monotonic() - started
                    yield world
                    assert all(f.alive for f in world.followers)  # nothing restarted
        finally:
            _kill(gateway)
            _kill(world.seeder)
            # ≈ 6 GB of weights and IPFS repos (pytest keeps its last 3 runs); the logs stay.
            # rmtree unlinks the symlinks to the shared cache, it does not follow them.
            for heavy in (tmp / "creator-node", creator_cache, gateway_cache,
                          *(tmp / f"cache{k}" for k in FOLLOWER_KEYS)):
                shutil.rmtree(heavy, ignore_errors=True)
            for name, seconds in world.timings.items():
                print(f"{name}: {seconds:.1f} s")


def _fetched(world: World, model_id: str) -> list[tuple[str, int, int]]:
    """(span, files fetched, MB) from the followers' logs (node/ipfs/fetch.py's line)."""
    pattern = re.compile(rf"{re.escape(model_id)} blocks \[(\d+), (\d+)\): (\d+) fetched \((\d+) MB\)")
    return [(f"{m[1]}:{m[2]}", int(m[3]), int(m[4])) for f in world.followers
            for m in pattern.finditer(f.log_path.read_text(errors="replace"))]


def _span_bytes(model_dir: Path, span: str) -> int:
    """config.json + the span's block files, from the manifest."""
    start, end = (int(x) for x in span.split(":"))
    manifest = json.loads((model_dir / "manifest.json").read_text())
    files = manifest["files"]
    blocks = {f"block_{i:03d}.safetensors" for i in range(start, end)} | {
        f"block_{i}.safetensors" for i in range(start, end)}
    return sum(int(v["size"]) for k, v in files.items() if k in blocks or k == "config.json")


def test_gemma_is_adopted_by_vote_through_the_cli_and_served_without_restarts(
        world: World, gemma3_dir: Path) -> None:
    started = time.monotonic()
    out = world.helio("model", "convert", GEMMA, chain=False)
    assert f"reused {GEMMA}" in out and manifest_cid(gemma3_dir) in out, out
    # the creator's node publishes and seeds while the creator proposes (the CID is known
    # from the conversion); the inferers need the weights only once it is adopted
    seeding = ThreadPoolExecutor(1).submit(world.publish_and_seed, GEMMA)

    # A holder who runs no node delegates to an inferer before the vote's snapshot.
    inferer = DEV_ACCOUNTS[FOLLOWER_KEYS[0]].address
    # 1200 MB needed; each evaluating inferer offers 700 MB: only together (sharded) can
    # they host it, so the first benchmark alone does not pass and the vote cannot open.
    reqs = ("--min-memory-mb", "1200", "--energy-mj-per-token", "20000", "--max-latency-ms", "2000")
    delegated, out = world.parallel((("delegate", inferer, "500"), {"dev": HOLDER}),
                                    (("model", "propose", GEMMA, *reqs), {"dev": CREATOR}))
    assert f"delegated 500 HELIO to {inferer}" in delegated, delegated
    assert f"proposed {GEMMA}: evaluating" in out, out
    out = world.evaluate(GEMMA, gemma3_dir, FOLLOWER_KEYS[0], "700")
    assert "counted in the fleet" in out and "offer 700 MB of memory together, the model needs " \
        "1200 MB" in out, out
    refused = world.helio("model", "vote", GEMMA, "--open", dev=CREATOR, ok=False)
    assert f"cannot open the vote on {GEMMA} yet: the inferers within the energy and latency " \
           "bounds offer 700 MB of memory together, the model needs 1200 MB" in refused, refused
    out = world.evaluate(GEMMA, gemma3_dir, FOLLOWER_KEYS[1], "700")  # completes the fleet
    assert "the evaluation so far: it meets the requirements" in out, out
    assert seeding.result(timeout=120) == manifest_cid(gemma3_dir)
    world.timings["gemma: convert → vote can open (CLI)"] = time.monotonic() - started
    adopted_at, votes = world.vote_to_adoption(GEMMA, FOLLOWER_KEYS[:2])
    assert f"voted for on {GEMMA} with 1500 HELIO of power" in votes[0], votes  # 500 delegated
    world.timings["gemma: convert → executed (CLI)"] = adopted_at - started
    mover = world.served(GEMMA, 18)
    answer = world.client.completions.create(model=GEMMA, prompt=GEMMA_PROMPT, max_tokens=4,
                                             temperature=0)
    world.timings["gemma: execute → first answer"] = time.monotonic() - adopted_at
    assert "Paris" in (answer.choices[0].text or ""), answer
    for span, files, mb in _fetched(world, GEMMA):
        print(f"gemma fetched: blocks {span}: {files} files, {mb} MB "
              f"(span {_span_bytes(gemma3_dir, span) / 1e6:.0f} MB)")

    # --- deprecation: a vote of its own, every step a `helio` command -------------------
    deprecated_at = time.monotonic()
    out = world.helio("model", "deprecate", GEMMA, dev=FOLLOWER_KEYS[0])  # 1500 HELIO of votes
    assert f"proposed the deprecation of {GEMMA}" in out, out
    world.mine(P.voting_delay_blocks + 1)
    votes = world.parallel(*((("model", "vote", GEMMA), {"dev": d}) for d in FOLLOWER_KEYS[:2]))
    assert all(f"voted for on the deprecation of {GEMMA}" in v for v in votes), votes
    world.mine(P.voting_period_blocks + 1)
    assert f"queued the deprecation of {GEMMA}" in world.helio("model", "queue", GEMMA, dev=ANYONE)
    world.mine(1, seconds=P.timelock_delay_s + 1)
    assert f"executed: {GEMMA} is deprecated" in world.helio("model", "execute", GEMMA, dev=ANYONE)
    everyone = {DEV_ACCOUNTS[k].address for k in FOLLOWER_KEYS}
    _until("the Gemma server back on SmolLM2",
           lambda: _live(world.dht, SMOL, 30) == everyone and not _live(world.dht, GEMMA, 18), 300)
    _until("Gemma gone from /v1/models", lambda: GEMMA not in _models(world.client), 90)
    world.timings["gemma: deprecate → back on SmolLM2"] = time.monotonic() - deprecated_at
    assert mover and all(f.alive for f in world.followers)
    world.timings["gemma case (test)"] = time.monotonic() - started


def test_a_checkpoint_brought_as_hf_dir_is_converted_adopted_and_answers_greedily(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "tests" / "node" / "models"))
    from tiny_checkpoints import save_checkpoint, tiny_tokenizer  # the creator's checkpoint

    started = time.monotonic()
    checkpoint = world.tmp / "my-checkpoint"
    model = save_checkpoint("llama", checkpoint)  # transformers save_pretrained, 200 KB shards
    assert len(list(checkpoint.glob("model-*.safetensors"))) > 1
    out = world.helio("model", "convert", "--hf-dir", str(checkpoint), "--id", TINY, chain=False)
    assert f"converted {TINY} (llama, float32" in out, out
    model_dir = world.creator_cache / "models" / TINY / "float32"
    assert world.publish_and_seed(TINY) == manifest_cid(model_dir)
    world.timings["tiny: convert + publish"] = time.monotonic() - started

    reqs = ("--min-memory-mb", "64", "--energy-mj-per-token", "5000", "--max-latency-ms", "1000")
    assert f"proposed {TINY}: evaluating" in world.helio("model", "propose", TINY, *reqs, dev=CREATOR)
    out = world.evaluate(TINY, model_dir, FOLLOWER_KEYS[2], "1024")
    assert "the evaluation so far: it meets the requirements" in out, out
    adopted_at, _ = world.vote_to_adoption(TINY, FOLLOWER_KEYS[:2])
    world.timings["tiny: convert → executed (CLI)"] = adopted_at - started
    num_blocks = json.loads((model_dir / "manifest.json").read_text())["num_blocks"]
    world.served(TINY, num_blocks)
    prompt = "The capital of France is"
    answer = world.client.completions.create(model=TINY, prompt=prompt, max_tokens=8, temperature=0)
    world.timings["tiny: execute → first answer"] = time.monotonic() - adopted_at

    tokenizer = tiny_tokenizer()
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    with torch.inference_mode():
        greedy = model.generate(ids, max_new_tokens=8, do_sample=False,
                                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
    expected = tokenizer.decode(greedy[0, ids.shape[1]:], skip_special_tokens=True)
    assert expected  # 8 tokens, no end of text: the comparison is not of two empty strings
    assert answer.choices[0].text == expected, (answer.choices[0].text, expected)
    world.timings["tiny case (test)"] = time.monotonic() - started
