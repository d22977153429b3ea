"""Signed energy reports: what an inferer tells the chain and the DHT about its power.

- ``build_report``: an ``EnergyReading`` + controller state → the EIP-712
  ``EnergyReport`` (``node.crypto.eip712``): ``availablePowerW``, ``batterySocBps``
  (0 without a battery), ``headroomW`` = headroom beyond the machine's own draw
  (clamped at 0), ``state``, a strictly increasing ``nonce`` (milliseconds, so a restart
  never reuses one) and ``timestamp`` = the wall time of signing (a demo's accelerated
  trace clock would be refused by the contract's freshness check).
- ``EnergyPayload``: the report, its signature, and the extras the scheduler uses that
  the on-chain struct does not carry (capacity, open sessions, UTC offset, span), signed
  together with the report's digest (EIP-191) by the same attestation key. Serialised
  as JSON bytes for the inferer's DHT record (key ``energy_dht_key(inferer)``).
- ``PostingPolicy``: post on-chain at every state change, else at most once per
  ``min_interval_s``.
- ``ChainPoster``: submits due reports from a worker thread, batching what piled up
  (``submitBatch``) so a slow RPC never stalls the energy loop. A failed post is logged
  once per outage; the next report the policy makes due goes out as usual (and
  supersedes it: the contract keeps only the latest).
- ``EnergyAttester``: the ``EnergyRunner.on_report`` hook tying the above together.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from node.crypto.eip712 import BPS, ENERGY_DOMAIN_NAME, Domain, EnergyReport
from node.energy.controller import Decision
from node.energy.reading import EnergyReading
from node.energy.state import InfererState

log = logging.getLogger(__name__)

UINT32_MAX = 2**32 - 1
MAX_PAYLOAD_BYTES = 2048


ZERO_ADDRESS = "0x" + "00" * 20


def energy_domain(chain_id: int = 31337, verifying_contract: str = ZERO_ADDRESS) -> Domain:
    """The EnergyAttestations domain; without a deployed contract (reports that only go
    into DHT records), the zero address on the local chain id."""
    return Domain(ENERGY_DOMAIN_NAME, chain_id, verifying_contract)


def energy_dht_key(inferer: str) -> str:
    """DHT key of an inferer's latest energy payload (subkey: its peer id)."""
    return f"energy.{inferer.lower()}"


def build_report(
    inferer: str,
    reading: EnergyReading | None,
    state: InfererState,
    draw_w: float,
    nonce: int,
    timestamp: int,
) -> EnergyReport:
    """The EIP-712 struct for one observation (no reading: zeros, the fail-safe view)."""
    available = headroom = soc_bps = 0
    if reading is not None:
        available = min(UINT32_MAX, max(0, round(reading.available_w)))
        headroom = min(UINT32_MAX, max(0, round(reading.headroom_w - draw_w)))
        if reading.battery_soc is not None:
            soc_bps = min(BPS, max(0, round(reading.battery_soc * BPS)))
    return EnergyReport(inferer, timestamp, available, soc_bps, headroom, int(state), nonce)


@dataclass(frozen=True)
class EnergyPayload:
    report: EnergyReport
    signature: bytes  # EIP-712 over the report
    extras: dict[str, Any]  # capacity, sessions, utc_offset_h, span
    extras_signature: bytes  # EIP-191 over extras_message(digest, extras)

    def to_bytes(self) -> bytes:
        doc = {
            "report": {k: v for k, v in zip(_names(), self.report.as_tuple(), strict=True)},
            "signature": "0x" + self.signature.hex(),
            "extras": self.extras,
            "extras_signature": "0x" + self.extras_signature.hex(),
        }
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def _names() -> list[str]:
    return [name for name, _ in EnergyReport.FIELDS]


def extras_message(digest: bytes, extras: dict[str, Any]) -> bytes:
    """The bytes the extras signature covers: the report digest binds them to it."""
    return json.dumps({"report": "0x" + digest.hex(), **extras}, sort_keys=True, separators=(",", ":")).encode()


def sign_payload(
    report: EnergyReport, extras: dict[str, Any], private_key: str | bytes, domain: Domain
) -> EnergyPayload:
    signature = report.sign(private_key, domain)
    msg = encode_defunct(extras_message(report.digest(domain), extras))
    extras_sig = bytes(Account.sign_message(msg, private_key=private_key).signature)
    return EnergyPayload(report, signature, dict(extras), extras_sig)


@dataclass
class PostingPolicy:
    min_interval_s: float = 3600.0  # periodic posts at most this often (state changes always post)
    last_t: float | None = None
    last_state: InfererState | None = None

    def due(self, now: float, state: InfererState) -> bool:
        if self.last_t is None or state != self.last_state:
            return True
        return now - self.last_t >= self.min_interval_s

    def record(self, now: float, state: InfererState) -> None:
        self.last_t, self.last_state = now, state


class ChainPoster:
    """Posts signed reports to ``EnergyAttestations`` from one worker thread.

    ``send(call)`` sends a contract call and returns its receipt (e.g.
    ``lambda call: transact(w3, account, call)``). Reports that pile up while a
    transaction is in flight go out together through ``submitBatch``. Reports the chain
    never answered for (the RPC is down or timed out: an ``OSError``) are kept, the newest
    ``max_batch`` of them, and go out again every ``retry_s`` and before the next report,
    in order: after an outage the chain catches up instead of keeping a stale report until
    the next one is due. A post the chain refused (a revert) is not retried: it would fail
    the same way and hold back every later report.
    """

    def __init__(self, contract: Any, send: Callable[[Any], Any], max_batch: int = 32,
                 retry_s: float = 15.0) -> None:
        self.contract = contract
        self.send = send
        self.max_batch = max_batch
        self.retry_s = retry_s  # how often undelivered reports are tried again
        self.undelivered: list[EnergyPayload] = []  # oldest first; the worker's own
        self.receipts: list[Any] = []
        self.errors: list[str] = []
        self.reports_posted = 0  # reports that reached the chain
        self.failing = False  # the last post failed (an outage is logged once)
        self._queue: queue.Queue[EnergyPayload | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="energy-poster", daemon=True)
        self._thread.start()

    def post(self, payload: EnergyPayload) -> None:
        self._queue.put(payload)

    def close(self, timeout_s: float = 30.0) -> bool:
        """Send what is queued, then stop the worker; give up waiting after ``timeout_s``
        (the worker is a daemon thread: a hung RPC never holds the process). True if the
        worker finished."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.retry_s if self.undelivered else None)
            except queue.Empty:  # nothing new: try the undelivered ones again
                self._submit_with_undelivered([])
                continue
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._submit_with_undelivered(batch)
            if stop:
                return

    def _submit_with_undelivered(self, batch: list[EnergyPayload]) -> None:
        """Post the undelivered reports before ``batch``; keep the newest of them on failure."""
        todo = (self.undelivered + batch)[-self.max_batch:]
        dropped = len(self.undelivered) + len(batch) - len(todo)
        if dropped:
            log.warning("energy reports: %d undelivered report(s) dropped (only the newest %d "
                        "are kept during an outage)", dropped, self.max_batch)
        self.undelivered = []
        if not self.submit_now(todo):
            self.undelivered = todo  # the chain did not answer: try again later

    def submit_now(self, batch: list[EnergyPayload]) -> bool:
        """Send ``batch`` now, in this thread (one ``submit`` or one ``submitBatch``). False
        only if the chain did not answer (worth a retry); a revert is logged and True."""
        fns = self.contract.functions
        try:
            if len(batch) == 1:
                call = fns.submit(batch[0].report.as_tuple(), batch[0].signature)
            else:
                call = fns.submitBatch([p.report.as_tuple() for p in batch], [p.signature for p in batch])
            self.receipts.append(self.send(call))
        except Exception as exc:  # a failed post must not kill the worker; the next one retries
            msg = _describe(exc)
            unreachable = isinstance(exc, OSError)  # requests' connection errors and timeouts too
            then = f"kept and tried again every {self.retry_s:.0f} s" if unreachable else                 "the next report due is posted as usual"
            if not self.failing:  # once per outage, not once per post
                log.warning("energy report post failed (%d reports): %s; %s", len(batch), msg, then)
            else:
                log.debug("energy report post failed again: %s", msg)
            self.failing = True
            self.errors.append(msg)
            return not unreachable
        if self.failing:
            log.info("energy reports reach the chain again (after %d failed posts)", len(self.errors))
        self.failing = False
        self.reports_posted += len(batch)
        return True


def _describe(exc: Exception) -> str:
    """A contract revert by its custom error name when the artifact can decode it."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        try:
            from node.chain.artifacts import load_artifact

            name, args = load_artifact("EnergyAttestations").decode_error(data)
            return f"{name}{tuple(args)}"
        except Exception:  # noqa: BLE001 - fall back to the raw error
            pass
    return f"{type(exc).__name__}: {exc}"


@dataclass
class EnergyAttester:
    """``EnergyRunner.on_report`` hook: signs every report (for the DHT record) and hands
    the due ones to the poster (for the chain)."""

    inferer: str  # the registered inferer address
    private_key: str  # its attestation key (StakingRegistry.attestationKeyOf)
    domain: Domain
    policy: PostingPolicy = field(default_factory=PostingPolicy)
    poster: ChainPoster | None = None
    extras: Callable[[], dict[str, Any]] = dict  # capacity, sessions, utc_offset_h, span
    wall_clock: Callable[[], float] = time.time
    # The posting interval counts on the energy clock (``now``; an accelerated trace's
    # day) instead of the wall clock; the report's timestamp and nonce stay wall time.
    policy_on_energy_clock: bool = False
    latest: EnergyPayload | None = None  # the newest signed report (for the DHT record)
    last_posted: EnergyPayload | None = None  # the newest one handed to the poster
    posted: int = 0
    _nonce: int = 0

    def next_nonce(self) -> int:
        self._nonce = max(self._nonce + 1, int(self.wall_clock() * 1000))
        return self._nonce

    def __call__(self, now: float, reading: EnergyReading | None, decision: Decision) -> None:
        wall = self.wall_clock()
        draw = 0.0 if not decision.state.loaded else float(self.extras().get("draw_w", 0.0))
        report = build_report(self.inferer, reading, decision.state, draw, self.next_nonce(), int(wall))
        extras = {"capacity": decision.capacity, **{k: v for k, v in self.extras().items() if k != "draw_w"}}
        self.latest = sign_payload(report, extras, self.private_key, self.domain)
        t = now if self.policy_on_energy_clock else wall
        if self.policy.due(t, decision.state):
            self.policy.record(t, decision.state)
            self.posted += 1
            self.last_posted = self.latest
            if self.poster is not None:
                self.poster.post(self.latest)
