"""Chaos beyond killed inferers, on real processes (Jepsen-style: inject, keep working,
check every outcome). Fault classes and how each is injected (docs/swarm.md, "Fault
model"):

- the **bootstrap** peer: SIGKILL, restart on the same port with the same key;
- the **gateway** (``helio gateway`` over the swarm, a subprocess): SIGKILL mid-request,
  restart;
- the **chain** (anvil with ``--state``): SIGTERM / SIGKILL, restart from its state file;
- a **partition** of one inferer (or of every server of a span): its ``DelayRelay``
  resets or blackholes every connection, then heals;
- **5 % packet loss**: every relay stalls 5 % of chunks by one RTO (200 ms) and resets
  0.1 % of them;
- a **slow-but-alive** inferer: its relay delays its answers so each step takes just under the
  client's step timeout.

Every generation ends ``ok`` (exactly the no-fault greedy text) or ``failed`` with a
named exception (``SwarmError`` subclasses: ``MissingBlocksError`` …; the gateway's HTTP
errors; connection errors while the gateway is down); none is ``lost``. No process is
left behind. ``test_soak`` mixes random faults of every class for ``HELIO_SOAK_S`` seconds
(a short pass in ``make test``; ``make soak`` runs 30 minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from chaoskit import (
    MODEL,
    ChainRig,
    Cluster,
    GatewayProcess,
    Outcomes,
    RelayedInferer,
    StatefulAnvil,
    assert_all_gone,
    reference_tokens,
    set_initial_peers,
)

from gateway.errors import APIError
from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.harness.swarm import LocalSwarm
from node.swarm.errors import SwarmError
from node.swarm.peer import PeerConfig
from node.swarm.records import ServerState

pytestmark = [pytest.mark.slow, pytest.mark.model]
SPANS = [(0, 15), (15, 30), (15, 30)]  # 15:30 twice: a failover target
PROMPT = [{"role": "user", "content": "Say hello."}]
PARAMS = SamplingParams(max_new_tokens=5)
STEP_TIMEOUT_S = 3.0
SLOW_MS = 2500.0  # its answers leave 2.5 s late: each step ≈ 2.5 s + compute, under 3 s + 50 ms/token
CONFIG = ClientConfig(step_timeout_s=STEP_TIMEOUT_S, ping_timeout_s=5.0, ban_s=2.0, max_ban_s=4.0,
                      codec="none")  # fp32 on the wire: the reference tokens are fp32
SOAK_S = float(os.environ.get("HELIO_SOAK_S", "20"))  # the short pass of `make test`
UNDIALABLE = "/ip4/127.0.0.1/tcp/9"  # discard: closed
NO_REUSEPORT = ("LIBP2P_TCP_REUSEPORT", "false")
GATEWAY_ERRORS = (openai.APIError, httpx.HTTPError)  # APIConnectionError, APIStatusError, …


@dataclass
class Rig:
    cluster: Cluster
    client: SwarmClient
    client_model: ClientModel
    ids: list[int]
    reference: list[int]
    outcomes: Outcomes
    logs: Path

    @property
    def swarm(self) -> LocalSwarm:
        return self.cluster.swarm

    def generate(self, fault: str, *, client: SwarmClient | None = None,
                 during: Callable[[int], None] | None = None) -> object | None:
        """One generation; its outcome recorded under ``fault``. ``during(i)`` runs after
        the i-th token. The route if it completed with the reference text, else None."""
        start = time.monotonic()
        try:
            route = (client or self.client).route(MODEL, 30, 576)
            tokens = []
            for token in generate_tokens(self.client_model, route, self.ids, PARAMS):
                tokens.append(token)
                if during is not None:
                    during(len(tokens))
        except SwarmError as exc:
            self.outcomes.failed(fault, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - anything else is a lost generation
            self.outcomes.lose(fault, f"{type(exc).__name__}: {exc}")
            return None
        took = time.monotonic() - start
        if tokens != self.reference:
            self.outcomes.lose(fault, f"tokens {tokens} != {self.reference}")
            return None
        if took > 120:
            self.outcomes.lose(fault, f"took {took:.0f} s")
            return None
        self.outcomes.ok(fault)
        return route

    def until_ok(self, fault: str, timeout: float = 90.0, **kwargs: object) -> float:
        """Generate until one completes; seconds it took (the recovery time)."""
        start = time.monotonic()
        while self.generate(f"{fault}:recovery", **kwargs) is None:  # type: ignore[arg-type]
            assert time.monotonic() - start < timeout, f"{fault}: no recovery in {timeout:.0f} s"
            time.sleep(0.5)
        return time.monotonic() - start

    def unban_all(self) -> None:
        for peer in list(self.client.banned()):
            self.client.unban(peer)

    def wait_online(self, peer_id: str, timeout: float = 90.0) -> float:
        start = time.monotonic()
        while True:
            record = self.client.records(MODEL, 30).get(peer_id)
            if record is not None and record.state == ServerState.ONLINE:
                return time.monotonic() - start
            assert time.monotonic() - start < timeout, f"{peer_id} not online in the DHT"
            time.sleep(0.5)


def _client(initial_peers: list[str]) -> SwarmClient:
    """A client nobody can dial (it announces a closed port): every connection to an
    inferer is one the client dialed, through that inferer's relay. (An inferer that
    dialed the client itself would hold a link that its relay cannot cut.)"""
    return SwarmClient(initial_peers, config=CONFIG, peer=PeerConfig(
        initial_peers=list(initial_peers), client_mode=True, announce=[UNDIALABLE]))


def _links(rig: Rig, inferer: RelayedInferer) -> list[str]:
    links = rig.client.loop.run(rig.client.peer.p2p.list_peers())
    return [str(a) for link in links if str(link.peer_id) == inferer.proc.peer_id for a in link.addrs]


@pytest.fixture(scope="module")
def rig(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    logs = tmp_path_factory.mktemp("chaos-logs")
    client_model = ClientModel(smollm2_dir)
    ids = client_model.encode_chat(PROMPT)
    reference = reference_tokens(smollm2_dir, client_model, ids, PARAMS)
    # go-libp2p dials from its listen port (SO_REUSEPORT): peers would observe and learn
    # that direct address and bypass the relays. Off, in every p2pd of the test (the
    # inferers', the gateway's and this process's client).
    saved = os.environ.get(NO_REUSEPORT[0])
    os.environ[NO_REUSEPORT[0]] = NO_REUSEPORT[1]
    swarm = LocalSwarm(smollm2_dir, logs, refresh_s=3, extra_env=dict([NO_REUSEPORT]))
    cluster = None
    try:
        cluster = Cluster.start(swarm, SPANS)
        with _client(swarm.initial_peers) as client:
            client.wait_for_coverage(MODEL, 30)
            rig = Rig(cluster, client, client_model, ids, reference, Outcomes(), logs)
            assert rig.generate("none") is not None
            yield rig
    finally:
        if cluster is not None:
            cluster.close()
        pids = swarm.pids()
        swarm.close()
        if saved is None:
            os.environ.pop(NO_REUSEPORT[0], None)
        else:
            os.environ[NO_REUSEPORT[0]] = saved
    assert_all_gone(pids)


@pytest.fixture(scope="module")
def chain_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainRig]:
    where = tmp_path_factory.mktemp("chaos-chain")
    anvil = StatefulAnvil(where / "anvil-state.json").start()
    chain = None
    try:
        chain = ChainRig(anvil, where)
        yield chain
    finally:
        if chain is not None:
            chain.close()
        anvil.close()
    assert_all_gone(anvil.all_pids)


@pytest.fixture
def healed(rig: Rig) -> Iterator[Rig]:
    """Every test starts and ends with no fault, no ban, every process up; it starts only
    once every inferer is online in the DHT again (a record can lapse while its inferer is
    cut off or slow, and a failover then finds no partner: seen once in a full run)."""
    for inferer in rig.cluster.inferers:
        rig.wait_online(inferer.proc.peer_id)
    yield rig
    rig.cluster.clear_faults()
    for boot in rig.cluster.bootstraps:
        if not boot.alive:
            rig.cluster.restart_bootstrap(boot)
    dead = [i.proc for i in rig.cluster.inferers if not i.proc.alive]
    for proc in dead:
        set_initial_peers(proc, rig.swarm.initial_peers)
        rig.swarm.restart(proc, wait=False)
    rig.swarm.wait_ready([i.proc for i in rig.cluster.inferers])
    rig.unban_all()


def _span_of(rig: Rig, span: tuple[int, int]) -> list[RelayedInferer]:
    return [i for i in rig.cluster.inferers if i.span == span]


def _through(rig: Rig, inferer: RelayedInferer) -> None:
    """Make the next route use ``inferer`` for its span: ban its partner(s)."""
    rig.unban_all()
    for other in rig.cluster.partner(inferer):
        rig.client.ban(other.proc.peer_id, "chaos test: route through the other one")


# --- bootstrap ------------------------------------------------------------------------
def test_bootstrap_killed_peers_keep_routing_and_join_through_the_other(healed: Rig) -> None:
    rig, cluster = healed, healed.cluster
    boot0, boot1 = cluster.bootstraps
    boot0_maddrs = list(boot0.maddrs)
    rig.swarm.kill(boot0)
    rig.outcomes.faults["bootstrap"] += 1
    for _ in range(2):  # existing DHT links carry the records
        assert rig.generate("bootstrap") is not None
    # a new inferer process (new peer id) joins through the second bootstrap only
    newcomer = _span_of(rig, (15, 30))[1]
    set_initial_peers(newcomer.proc, list(boot1.maddrs))
    rig.swarm.restart(newcomer.proc)
    joined_s = rig.wait_online(newcomer.proc.peer_id)
    _through(rig, newcomer)
    route = rig.generate("bootstrap")
    assert route is not None and newcomer.proc.peer_id in [p for p, _, _ in route.peers]  # type: ignore[attr-defined]
    rig.unban_all()
    # the first bootstrap comes back with the same address; a client that knows only it
    # sees the whole swarm again
    start = time.monotonic()
    cluster.restart_bootstrap(boot0)
    assert boot0.maddrs and set(boot0.maddrs) <= set(boot0_maddrs)  # the same address
    with _client(boot0.maddrs) as fresh:
        fresh.wait_for_coverage(MODEL, 30, timeout=60)
        assert rig.generate("bootstrap", client=fresh) is not None
    rig.outcomes.recovery_s["bootstrap"].append(time.monotonic() - start)
    print(f"bootstrap: newcomer online {joined_s:.1f} s after start; restarted bootstrap serves "
          f"the whole swarm after {rig.outcomes.recovery_s['bootstrap'][-1]:.1f} s")


# --- partition ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["blackhole", "reset"])
def test_partitioned_inferer_mid_generation_fails_over_then_heals(healed: Rig, mode: str) -> None:
    rig, cluster = healed, healed.cluster
    victim = _span_of(rig, (15, 30))[0]
    _through(rig, victim)

    def cut_after_first_token(n: int) -> None:
        if n == 1:
            cluster.cut(victim, mode)
            rig.unban_all()  # its partner may take over now
            rig.outcomes.faults["partition"] += 1

    route = rig.generate("partition", during=cut_after_first_token)
    assert route is not None, rig.outcomes.messages[-3:]
    assert route.failovers >= 1, (_links(rig, victim), victim.relay.port)  # type: ignore[attr-defined]
    assert victim.proc.peer_id not in [p for p, _, _ in route.peers]  # type: ignore[attr-defined]
    if mode == "blackhole":
        assert victim.relay.bytes_blackholed > 0
    else:
        assert victim.relay.resets > 0
    # the whole span cut off: connections the servers dialed themselves may still carry
    # it (the relay cuts what is dialed to them); else a clear MissingBlocksError, no hang
    for other in cluster.partner(victim):
        cluster.cut(other, mode)
    start = time.monotonic()
    errors = rig.outcomes.total("failed")
    outcome = "ok" if rig.generate("partition") is not None else "failed"
    assert rig.outcomes.total("failed") == errors + (outcome == "failed") and not rig.outcomes.lost
    assert time.monotonic() - start < 4 * STEP_TIMEOUT_S + 30
    print(f"partition ({mode}) of the whole span 15:30: {outcome} {dict(rig.outcomes.errors)}")
    # heal: the victim serves again
    for inferer in _span_of(rig, (15, 30)):
        cluster.heal(inferer)
    start = time.monotonic()
    _through(rig, victim)
    rig.outcomes.recovery_s["partition"].append(rig.until_ok("partition"))
    print(f"partition ({mode}): healed, through the victim again after {time.monotonic() - start:.1f} s")


# --- loss -------------------------------------------------------------------------------
def test_five_percent_loss_between_inferers(healed: Rig) -> None:
    rig, cluster = healed, healed.cluster
    stalls0 = sum(i.relay.stalls for i in cluster.inferers)
    resets0 = sum(i.relay.resets for i in cluster.inferers)
    cluster.set_faults(loss=0.05, reset_rate=0.001)
    rig.outcomes.faults["loss"] += 1
    results = [rig.generate("loss") for _ in range(3)]
    stalls = sum(i.relay.stalls for i in cluster.inferers) - stalls0
    resets = sum(i.relay.resets for i in cluster.inferers) - resets0
    cluster.clear_faults()
    start = time.monotonic()
    rig.outcomes.recovery_s["loss"].append(rig.until_ok("loss"))
    print(f"loss: {sum(r is not None for r in results)}/3 complete, {stalls} stalls, {resets} resets; "
          f"recovered in {time.monotonic() - start:.1f} s")
    assert stalls > 0
    assert not rig.outcomes.lost, rig.outcomes.lost


# --- slow -------------------------------------------------------------------------------
def test_slow_but_alive_inferer_is_waited_for_not_banned(healed: Rig) -> None:
    rig, cluster = healed, healed.cluster
    slow = _span_of(rig, (15, 30))[0]
    cluster.set_faults(egress_delay_ms=SLOW_MS, only=slow)
    rig.outcomes.faults["slow"] += 1
    _through(rig, slow)
    start = time.monotonic()
    route = rig.generate("slow")
    took = time.monotonic() - start
    cluster.clear_faults()
    assert route is not None, rig.outcomes.summary()
    assert route.failovers == 0  # type: ignore[attr-defined]
    assert slow.proc.peer_id in [p for p, _, _ in route.peers]  # type: ignore[attr-defined]
    steps = [wall for wall, _ in route.timings]  # type: ignore[attr-defined]
    print(f"slow: reached at {_links(rig, slow)}; its relay {slow.relay.port}")
    print(f"slow: {len(steps)} steps, {took:.1f} s; slowest step {max(steps):.0f} ms "
          f"(timeout {STEP_TIMEOUT_S * 1000:.0f} ms + 50 ms/token)")
    assert min(steps[1:]) > SLOW_MS  # each step really waited on the slow one…
    assert max(steps[1:]) < STEP_TIMEOUT_S * 1000 + 50  # …and stayed under the timeout
    rig.outcomes.recovery_s["slow"].append(rig.until_ok("slow"))


# --- gateway ------------------------------------------------------------------------------
@dataclass
class GatewayProbe:
    gw: GatewayProcess
    reference: str = ""

    def api(self, timeout: float = 60.0) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.gw.url}/v1", api_key="unused", max_retries=0, timeout=timeout)

    def complete(self, max_tokens: int = 5) -> str:
        reply = self.api().chat.completions.create(model=MODEL, messages=PROMPT, max_tokens=max_tokens,  # type: ignore[arg-type]
                                                   temperature=0)
        return reply.choices[0].message.content or ""

    def until_ok(self, rig: Rig, fault: str, timeout: float = 90.0) -> float:
        """Requests until one succeeds (503s while its swarm client finds the servers)."""
        start = time.monotonic()
        while True:
            try:
                text = self.complete()
            except GATEWAY_ERRORS as exc:
                rig.outcomes.failed(fault, exc)
                assert time.monotonic() - start < timeout, f"gateway: no answer in {timeout:.0f} s: {exc}"
                time.sleep(0.5)
                continue
            if self.reference and text != self.reference:
                rig.outcomes.lose(fault, f"gateway text {text!r} != {self.reference!r}")
            else:
                rig.outcomes.ok(fault)
            self.reference = self.reference or text
            return time.monotonic() - start

    def kill_in_flight(self, rig: Rig) -> list[str]:
        """Two requests in flight (one streaming, one not), SIGKILL the gateway after the
        first streamed chunk: both end with a named error within seconds, none hangs."""
        streamed = threading.Event()
        errors: list[str] = []

        def stream() -> None:
            try:
                chunks = self.api(timeout=30).chat.completions.create(
                    model=MODEL, messages=PROMPT, max_tokens=200, temperature=0, stream=True)  # type: ignore[arg-type]
                for _ in chunks:
                    streamed.set()
                errors.append("completed")
            except GATEWAY_ERRORS as exc:
                errors.append(type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - recorded as lost below
                errors.append(f"unexpected {type(exc).__name__}: {exc}")
            finally:
                streamed.set()

        def plain() -> None:
            try:
                self.api(timeout=30).chat.completions.create(model=MODEL, messages=PROMPT, max_tokens=200,  # type: ignore[arg-type]
                                                             temperature=0)
                errors.append("completed")
            except GATEWAY_ERRORS as exc:
                errors.append(type(exc).__name__)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"unexpected {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=stream), threading.Thread(target=plain)]
        for thread in threads:
            thread.start()
        assert streamed.wait(60), "no streamed chunk"
        killed_at = time.monotonic()
        self.gw.kill(signal.SIGKILL)
        rig.outcomes.faults["gateway"] += 1
        for thread in threads:
            thread.join(20)
            assert not thread.is_alive(), "a request hangs after the gateway died"
        waited = time.monotonic() - killed_at
        for name in errors:
            if name.startswith("unexpected") or name == "completed":
                rig.outcomes.lose("gateway", f"in-flight request: {name}")
            else:
                rig.outcomes.counts["gateway"]["failed"] += 1
                rig.outcomes.errors[name] += 1
        assert waited < 20
        return errors


@pytest.fixture
def gateway(rig: Rig) -> Iterator[GatewayProbe]:
    gw = GatewayProcess(rig.logs / "gateway.log", [
        arg for m in rig.swarm.initial_peers for arg in ("--initial-peers", m)],
        env={NO_REUSEPORT[0]: NO_REUSEPORT[1], "HELIO_GATEWAY_FREE_REQUESTS_PER_MINUTE": "100000",
             "HELIO_GATEWAY_FREE_TOKENS_PER_MINUTE": "10000000"})
    try:
        gw.start()
        yield GatewayProbe(gw)
    finally:
        gw.close()
    assert_all_gone(gw.all_pids)


def test_gateway_killed_mid_request_fails_cleanly_and_restarts(healed: Rig, gateway: GatewayProbe) -> None:
    rig = healed
    gateway.until_ok(rig, "gateway")  # the no-fault reply
    errors = gateway.kill_in_flight(rig)
    print(f"gateway: in-flight requests ended with {errors}")
    assert len(errors) == 2 and "completed" not in errors, errors
    with pytest.raises(openai.APIConnectionError):  # down: refused at once
        gateway.complete()
    start = time.monotonic()
    gateway.gw.start()
    rig.outcomes.recovery_s["gateway"].append(gateway.until_ok(rig, "gateway"))
    print(f"gateway: answering again {time.monotonic() - start:.1f} s after the restart began")
    assert gateway.complete() == gateway.reference
    assert not rig.outcomes.lost, rig.outcomes.lost


# --- chain ------------------------------------------------------------------------------
def _chain_outage(chain: ChainRig, outcomes: Outcomes, sig: int) -> dict[str, object]:
    """One chain outage: a voucher accepted and pending, the chain killed with ``sig``;
    while it is down paid requests are refused (503 chain_unavailable), redemption raises
    and keeps the vouchers, an energy post fails and is kept; after the restart redemption
    and the energy report catch up. With SIGKILL a redemption is mined just before the kill:
    the restarted chain may have forgotten it (anvil saves its state every
    state_interval_s), and it is redeemed again."""
    state_s = chain.anvil.state_interval_s
    chain.pay()
    if sig == signal.SIGKILL:  # a kill -9 loses up to state_interval_s: let it dump first
        time.sleep(state_s + 1.0)
    onchain_before = chain.redeemed_on_chain()
    latest_before = chain.latest_nonce()
    if sig == signal.SIGKILL:
        chain.redeem_loop.redeem_now()  # mined, then killed before the next state dump
    chain.anvil.kill(sig)
    outcomes.faults["chain"] += 1
    try:
        chain.pay()
        outcomes.lose("chain", "a voucher was accepted while the chain was down")
    except APIError as exc:
        assert exc.status == 503 and exc.code == "chain_unavailable", exc
        outcomes.failed("chain", exc)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - whatever web3 raises, named
        chain.redeem_loop.redeem_now()
    outcomes.errors[f"redeem: {type(raised.value).__name__}"] += 1
    if sig != signal.SIGKILL:
        assert chain.desk.unredeemed(), "the pending voucher was dropped"
    kept, posted = chain.attest()
    assert not posted and [p.report.nonce for p in chain.poster.undelivered] == [kept]
    start = time.monotonic()
    chain.anvil.start()
    assert chain.redeemed_on_chain() >= onchain_before  # the state came back
    assert chain.latest_nonce() == latest_before  # the kept report is not on chain yet
    again = chain.redeem_loop.redeem_now()
    assert again == 1 or sig == signal.SIGKILL  # 0 after a kill -9 only if the redemption was saved
    assert chain.redeemed_on_chain() == chain.charged
    assert not chain.desk.unredeemed()
    nonce, posted = chain.attest()
    assert posted and chain.latest_nonce() == nonce
    assert not chain.poster.undelivered  # the kept report went first
    outcomes.recovery_s["chain"].append(time.monotonic() - start)
    chain.pay()  # paid requests work again
    outcomes.ok("chain")
    return {"redeemed": chain.redeemed_on_chain(), "accepted": chain.accepted, "redeemed_after_restart": again}


@pytest.mark.chain
def test_chain_killed_redemptions_wait_and_catch_up(chain_rig: ChainRig) -> None:
    outcomes = Outcomes()
    chain_rig.pay()
    assert chain_rig.redeem_loop.redeem_now() == 1
    nonce, posted = chain_rig.attest()
    assert posted and chain_rig.latest_nonce() == nonce
    for sig in (signal.SIGTERM, signal.SIGKILL):
        print(f"chain ({signal.Signals(sig).name}): {_chain_outage(chain_rig, outcomes, sig)}")
    assert chain_rig.redeem_loop.redeem_now() == 1
    assert chain_rig.redeemed_on_chain() == chain_rig.charged
    print(f"chain: {outcomes.summary()}")
    assert not outcomes.lost


# --- soak ---------------------------------------------------------------------------------
FAULTS = ["inferer", "bootstrap", "partition", "loss", "slow", "gateway", "chain"]


@pytest.mark.chain
def test_soak(healed: Rig, gateway: GatewayProbe, chain_rig: ChainRig, tmp_path: Path) -> None:
    """Random faults of every class for ``HELIO_SOAK_S`` seconds (bounded: the last
    episode starts before the deadline), then everything healed: a generation, a
    gateway request and the chain's redemptions must all catch up."""
    rig, cluster = healed, healed.cluster
    seed = int(os.environ.get("HELIO_SOAK_SEED", "7"))
    rng = random.Random(seed)
    soak = Outcomes()
    rig.outcomes = soak  # count only the soak's generations
    gateway.until_ok(rig, "none")
    chain_rig.pay()  # something to redeem at the end, whichever faults the soak draws
    deadline = time.monotonic() + SOAK_S
    episodes = 0
    first = rng.sample(FAULTS, len(FAULTS))  # every class once (a long run), then at random
    while time.monotonic() < deadline or episodes == 0:
        fault = first[episodes] if episodes < len(first) else rng.choice(FAULTS)
        _episode(rig, cluster, gateway, chain_rig, fault, rng)
        episodes += 1
    # all healed: everything works, nothing was lost
    cluster.clear_faults()
    rig.unban_all()
    rig.until_ok("final")
    gateway.until_ok(rig, "final")
    chain_rig.redeem_loop.redeem_now()
    assert chain_rig.redeemed_on_chain() == chain_rig.charged
    summary = soak.summary() | {"seconds": SOAK_S, "seed": seed, "episodes": episodes}
    report = Path(os.environ.get("HELIO_SOAK_REPORT", tmp_path / "soak.json"))
    report.write_text(json.dumps(summary, indent=2))
    print(f"soak: {summary}")
    assert not soak.lost, soak.lost
    assert soak.total("ok") > 0


def _episode(rig: Rig, cluster: Cluster, gateway: GatewayProbe, chain: ChainRig, fault: str,
             rng: random.Random) -> None:
    if fault not in ("gateway", "chain"):  # those two count their own
        rig.outcomes.faults[fault] += 1
    if fault == "inferer":
        victim = rng.choice(cluster.inferers)
        timer = threading.Timer(rng.uniform(0.0, 1.0), rig.swarm.kill, args=(victim.proc,))
        timer.start()  # often mid-generation
        rig.generate(fault)
        timer.join()
        start = time.monotonic()
        set_initial_peers(victim.proc, rig.swarm.initial_peers)
        rig.swarm.restart(victim.proc)
        rig.wait_online(victim.proc.peer_id)
        rig.outcomes.recovery_s[fault].append(time.monotonic() - start)
    elif fault == "bootstrap":
        boot = rng.choice(cluster.bootstraps)
        rig.swarm.kill(boot)
        rig.generate(fault)
        start = time.monotonic()
        cluster.restart_bootstrap(boot)
        with _client(boot.maddrs) as fresh:
            fresh.wait_for_coverage(MODEL, 30, timeout=60)
        rig.outcomes.recovery_s[fault].append(time.monotonic() - start)
    elif fault == "partition":
        span = rng.choice([(0, 15), (15, 30)])  # 0:15 has one server: a whole span cut off
        victims = [rng.choice(_span_of(rig, span))]
        mode = rng.choice(["blackhole", "reset"])
        for victim in victims:
            cluster.cut(victim, mode)
        rig.generate(fault)
        for victim in victims:
            cluster.heal(victim)
        rig.outcomes.recovery_s[fault].append(rig.until_ok(fault))
    elif fault == "loss":
        cluster.set_faults(loss=0.05, reset_rate=0.001)
        for _ in range(2):
            rig.generate(fault)
        cluster.clear_faults()
        rig.outcomes.recovery_s[fault].append(rig.until_ok(fault))
    elif fault == "slow":
        slow = rng.choice(cluster.inferers)
        cluster.set_faults(egress_delay_ms=SLOW_MS, only=slow)
        _through(rig, slow)
        rig.generate(fault)
        cluster.clear_faults()
        rig.unban_all()
        rig.outcomes.recovery_s[fault].append(rig.until_ok(fault))
    elif fault == "gateway":
        gateway.kill_in_flight(rig)
        start = time.monotonic()
        gateway.gw.start()
        gateway.until_ok(rig, fault)
        rig.outcomes.recovery_s[fault].append(time.monotonic() - start)
    elif fault == "chain":
        _chain_outage(chain, rig.outcomes, rng.choice([signal.SIGTERM, signal.SIGKILL]))
    with contextlib.suppress(Exception):
        rig.unban_all()
