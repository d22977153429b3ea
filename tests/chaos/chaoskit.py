"""Helpers of the chaos tests (imported as ``chaoskit``: tests/ has no packages).

- ``Cluster``: a ``LocalSwarm`` with two restartable bootstraps (fixed port and identity,
  so a restart keeps the multiaddr) and inferers each reachable only through its own
  ``DelayRelay`` (node/swarm/delay.py: latency, loss stalls, resets, partitions), plus a
  ``helio gateway`` subprocess over that swarm.
- ``GatewayProcess``: ``helio gateway`` as an operator runs it, in its own process group.
- ``StatefulAnvil``: anvil with ``--state`` (loaded at start, dumped every
  ``--state-interval`` s and on SIGTERM), restartable on the same port.
- ``ChainRig``: the deployed contracts on that anvil, a payment channel, the gateway's
  ``PaymentDesk`` + ``RedeemLoop`` (vouchers accepted, redeemed in batches) and an energy
  ``ChainPoster``: the chain's writers, driven in-process against the real chain process.
- ``Outcomes``: every generation is ``ok`` (the no-fault greedy text), ``failed`` (a named
  exception from the expected list) or ``lost`` (anything else: wrong text, an
  unexpected exception, a hang).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.client import ClientModel, SamplingParams, generate_tokens
from node.core.paths import NODE_MODULES_BIN, PROJECT_ROOT
from node.engine import InProcessRoute, Span
from node.harness.swarm import LocalSwarm, SwarmProcess
from node.swarm.delay import DelayRelay, free_port
from node.swarm.peer import LoopThread

MODEL = "smollm2-135m-instruct"


# --- processes -------------------------------------------------------------------------
def group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def assert_all_gone(pids: list[int], timeout: float = 15.0) -> None:
    """Every process (and its process group: p2pd children) has exited."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if not group_gone(p)]
        if left:
            time.sleep(0.1)
    assert not left, f"process groups left behind: {left}"
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"process {pid} is still there")


def _killpg(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class GatewayProcess:
    """``helio gateway --port P --initial-peers …`` in its own process group (its p2pd
    dies with it). ``start()`` returns once ``GET /v1/models`` answers."""

    def __init__(self, log_path: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.args = args
        self.env = env or {}
        self.popen: subprocess.Popen[bytes] | None = None
        self.all_pids: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, timeout: float = 120.0) -> GatewayProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
               **self.env}
        env.pop("HELIO_INITIAL_PEERS", None)
        with open(self.log_path, "ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} start\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "node.cli.main", "gateway", "--port", str(self.port), *self.args],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT, env=env,
                start_new_session=True)
        self.all_pids.append(self.popen.pid)
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise AssertionError(f"the gateway exited; log {self.log_path}:\n{_tail(self.log_path)}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the gateway did not answer in {timeout:.0f} s:\n{_tail(self.log_path)}")
            time.sleep(0.3)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        if sig == signal.SIGKILL:
            _killpg(self.popen.pid)
        else:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            _killpg(self.popen.pid)
            self.popen.wait(10)
        _killpg(self.popen.pid)  # its p2pd

    def close(self) -> None:
        self.kill()


class StatefulAnvil:
    """anvil on a fixed loopback port with ``--state FILE --state-interval S``: a restart
    loads the last dump (SIGTERM dumps on exit; after SIGKILL up to S seconds are lost)."""

    def __init__(self, state_path: Path, state_interval_s: int = 1) -> None:
        self.state_path = state_path
        self.state_interval_s = state_interval_s
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None
        self.all_pids: list[int] = []
        self.log_path = state_path.with_suffix(".log")

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, timeout: float = 20.0) -> StatefulAnvil:
        from node.chain.anvil import rpc_chain_id

        cmd = [str(NODE_MODULES_BIN / "anvil"), "--host", "127.0.0.1", "--port", str(self.port),
               "--silent", "--state", str(self.state_path), "--state-interval", str(self.state_interval_s)]
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self.all_pids.append(self.popen.pid)
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise AssertionError(f"anvil exited: {_tail(self.log_path)}")
            try:
                rpc_chain_id(self.rpc_url)
                return self
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"anvil did not answer in {timeout:.0f} s") from None
                time.sleep(0.05)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            _killpg(self.popen.pid)
            self.popen.wait(10)

    def close(self) -> None:
        if self.popen is not None:
            _killpg(self.popen.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- the swarm with relays ---------------------------------------------------------------
@dataclass
class RelayedInferer:
    proc: SwarmProcess
    relay: DelayRelay
    span: tuple[int, int]


@dataclass
class Cluster:
    """Two bootstraps, inferers behind relays (two per span), a relay event loop."""

    swarm: LocalSwarm
    loop: LoopThread
    inferers: list[RelayedInferer] = field(default_factory=list)

    @classmethod
    def start(cls, swarm: LocalSwarm, spans: list[tuple[int, int]], throughput: float = 15.0) -> Cluster:
        cluster = cls(swarm, LoopThread("chaos-relays"))
        logs = swarm.log_dir
        # both at once (each checks its relay: seconds); the inferers join through both,
        # which makes one DHT of them
        for name in ("bootstrap0", "bootstrap1"):
            swarm.start_bootstrap(name=name, port=free_port(), identity=logs / f"{name}.key", wait=False)
        swarm.wait_ready(swarm.bootstraps, timeout=90)
        for i, span in enumerate(spans):
            port = free_port()
            relay = cluster.loop.run(DelayRelay(target_port=port).start())
            proc = swarm.start_inferer(span, name=f"inferer{i}", wait=False, extra_args=[
                "--port", str(port), "--announce", f"/ip4/127.0.0.1/tcp/{relay.port}",
                "--throughput", str(throughput)])  # fixed: no probe, only faults change routes
            cluster.inferers.append(RelayedInferer(proc, relay, span))
        swarm.wait_ready()
        return cluster

    @property
    def bootstraps(self) -> list[SwarmProcess]:
        return self.swarm.bootstraps

    def partner(self, inferer: RelayedInferer) -> list[RelayedInferer]:
        return [i for i in self.inferers if i.span == inferer.span and i is not inferer]

    def by_peer(self, peer_id: str) -> RelayedInferer | None:
        return next((i for i in self.inferers if i.proc.peer_id == peer_id), None)

    def cut(self, inferer: RelayedInferer, mode: str) -> None:
        self.loop.run(inferer.relay.cut(mode))  # type: ignore[arg-type]

    def heal(self, inferer: RelayedInferer) -> None:
        self.loop.run(inferer.relay.heal())

    def set_faults(self, *, loss: float = 0.0, reset_rate: float = 0.0, egress_delay_ms: float = 0.0,
                   only: RelayedInferer | None = None) -> None:
        for inferer in [only] if only is not None else self.inferers:
            inferer.relay.loss, inferer.relay.reset_rate = loss, reset_rate
            inferer.relay.egress_delay_ms = egress_delay_ms

    def clear_faults(self) -> None:
        for inferer in self.inferers:
            if inferer.relay.partition is not None:
                self.heal(inferer)
        self.set_faults()

    def restart_bootstrap(self, proc: SwarmProcess, wait: bool = True) -> None:
        """Back on the same port with the same key (so the same multiaddr), joined to the
        other bootstraps that are up (so the DHT is one again)."""
        others = [m for b in self.bootstraps if b is not proc and b.alive for m in b.maddrs]
        set_initial_peers(proc, others)
        self.swarm.restart(proc, wait=wait, timeout=60)

    def close(self) -> None:
        for inferer in self.inferers:
            with contextlib.suppress(Exception):
                self.loop.run(inferer.relay.close())
        self.loop.stop()


def set_initial_peers(proc: SwarmProcess, maddrs: list[str]) -> None:
    """Replace ``proc``'s ``--initial-peers`` (for its next ``restart``)."""
    args, kept = proc.args, []
    i = 0
    while i < len(args):
        if args[i] == "--initial-peers":
            i += 2
            continue
        kept.append(args[i])
        i += 1
    for maddr in maddrs:
        kept += ["--initial-peers", maddr]
    proc.args[:] = kept


# --- outcomes ---------------------------------------------------------------------------
@dataclass
class Outcomes:
    """Every generation's fate by fault class; recovery times by fault class."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    recovery_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    faults: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)  # the failures' own words

    def ok(self, fault: str) -> None:
        self.counts[fault]["ok"] += 1

    def failed(self, fault: str, exc: BaseException) -> None:
        self.counts[fault]["failed"] += 1
        self.errors[type(exc).__name__] += 1
        self.messages.append(f"{fault}: {type(exc).__name__}: {str(exc)[:300]}")

    def lose(self, fault: str, why: str) -> None:
        self.counts[fault]["lost"] += 1
        self.lost.append(f"{fault}: {why}")

    def total(self, kind: str) -> int:
        return sum(c[kind] for c in self.counts.values())

    def summary(self) -> dict[str, Any]:
        return {
            "generations": {k: self.total(k) for k in ("ok", "failed", "lost")},
            "by_fault": {f: dict(c) for f, c in sorted(self.counts.items())},
            "faults_injected": dict(self.faults),
            "errors": dict(self.errors),
            "lost": self.lost,
            "recovery_s": {f: {"n": len(v), "median": round(sorted(v)[len(v) // 2], 2),
                               "max": round(max(v), 2)}
                           for f, v in sorted(self.recovery_s.items()) if v},
        }


# --- the chain's writers ----------------------------------------------------------------
class ChainRig:
    """Contracts deployed on a ``StatefulAnvil``; the gateway's payment desk and redeem
    loop (vouchers of one channel accepted, redeemed in batches) and an inferer's energy
    ``ChainPoster``, all in this process, writing to the chain process."""

    def __init__(self, anvil: StatefulAnvil, deployments_dir: Path) -> None:
        from eth_account import Account

        from gateway.payments.chain import ChainChannels, ChainRedeemer
        from gateway.payments.desk import PaymentDesk
        from gateway.payments.redeem import RedeemLoop
        from node.chain import (
            ANVIL_CHAIN_ID,
            DEV_ACCOUNTS,
            connect,
            deploy_all,
            ensure_compiled,
            transact,
        )
        from node.chain.bindings import HelioChain
        from node.client.vouchers import VoucherWallet
        from node.crypto.eip712 import Domain
        from node.energy.attest import ChainPoster

        ensure_compiled()
        self.anvil = anvil
        self.w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        self.deployment = deploy_all(self.w3, DEV_ACCOUNTS[0].private_key, "chaos", directory=deployments_dir)
        payee = Account.from_key(DEV_ACCOUNTS[1].private_key)
        client, self.inferer = DEV_ACCOUNTS[2], DEV_ACCOUNTS[4]  # PUBLIC anvil dev keys
        self.payments = HelioChain(self.w3, self.deployment, payee).payments
        domain = self.payments.domain()
        self.desk = PaymentDesk(domain, payee.address, ChainChannels(self.payments), 1, 60)
        self.redeem_loop = RedeemLoop(self.desk, ChainRedeemer(self.payments), 3600.0)
        self.channel = HelioChain(self.w3, self.deployment, Account.from_key(client.private_key)).payments \
            .open_channel(payee.address, 10**18, int(time.time()) + 7200)
        self.wallet = VoucherWallet(private_key=client.private_key, domain=domain, payee=payee.address,
                                    channel=self.channel, model_id=MODEL, price_per_token_wei=1)
        self.amount = 0
        staker = HelioChain(self.w3, self.deployment, Account.from_key(self.inferer.private_key))
        staker.staking.ensure_staked(peer_id="12D3KooWChaosInferer", attestation_key=self.inferer.address,
                                     region="eu", capacity=1)
        self.energy = staker.energy
        self.energy_domain = Domain.of(self.energy.c)
        account = Account.from_key(self.inferer.private_key)
        # Kept reports go out with the next one (attest); no timer retry racing the checks
        # (tests/node/energy/test_energy_chain.py covers the timer).
        self.poster = ChainPoster(self.energy.c, lambda call: transact(self.w3, account, call),
                                  retry_s=3600.0)
        self._nonce = 0

    def pay(self, tokens: int = 10) -> None:
        """A paid request: a voucher checked against the chain's channel and accepted
        (the ``APIError`` 402 the gateway would answer when it is not)."""
        self.amount += tokens
        signed = self.wallet.sign(self.amount)
        ticket = self.desk.admit(signed, self.desk.channels.channel(self.channel), MODEL, tokens)
        ticket.settle(tokens)

    @property
    def accepted(self) -> int:
        account = self.desk.accounts.get(self.channel)
        return account.accepted if account is not None else 0

    @property
    def charged(self) -> int:
        """What the requests cost: the desk redeems this, not the latest voucher's bound
        (0 before the first paid request)."""
        account = self.desk.accounts.get(self.channel)
        return account.charged if account is not None else 0

    def redeemed_on_chain(self) -> int:
        return int(self.payments.channel(self.channel)["redeemed"])

    def attest(self, timeout: float = 30.0) -> tuple[int, bool]:
        """Sign and post one energy report; (its nonce, whether it reached the chain)."""
        from node.energy.attest import build_report, sign_payload
        from node.energy.state import InfererState

        self._nonce = max(self._nonce + 1, int(time.time() * 1000))
        report = build_report(self.inferer.address, None, InfererState.ONLINE, 0.0, self._nonce, int(time.time()))
        before = (self.poster.reports_posted, len(self.poster.errors))
        self.poster.post(sign_payload(report, {}, self.inferer.private_key, self.energy_domain))
        deadline = time.monotonic() + timeout
        while (self.poster.reports_posted, len(self.poster.errors)) == before:
            assert time.monotonic() < deadline, "the energy poster did not finish a post"
            time.sleep(0.05)
        return self._nonce, self.poster.reports_posted > before[0]

    def latest_nonce(self) -> int:
        return int(self.energy.latest(self.inferer.address)["nonce"])

    def close(self) -> None:
        self.poster.close(5)


def reference_tokens(model_dir: Path, client_model: ClientModel, ids: list[int],
                     params: SamplingParams) -> list[int]:
    """The no-fault greedy tokens: the whole model in this process, on 1 torch thread (as
    the inferers run)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return list(generate_tokens(client_model, InProcessRoute([Span(model_dir, 0, 30)]), ids, params))
    finally:
        torch.set_num_threads(threads)
