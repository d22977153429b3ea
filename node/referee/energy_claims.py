"""Signed energy payloads (``node.energy.attest``) → verified ``EnergyClaim``.

A referee trusts an inferer's energy only when (1) the EIP-712 report is signed by the
inferer's registered attestation key, (2) the extras (capacity, sessions, zone, span)
are signed by the same key together with the report's digest, (3) every value is in
range and (4) the report is fresh (``max_age_s``) and not from the future. Anything
else is ignored: ``verify_payload`` raises ``ClaimError`` saying why, and
``claims_from`` logs and skips.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from node.core.errors import ConfigError, HeliomeshError
from node.crypto.eip712 import BPS, Domain, EnergyReport
from node.energy.attest import MAX_PAYLOAD_BYTES, extras_message
from node.energy.state import InfererState
from node.referee.energy import EnergyClaim

log = logging.getLogger(__name__)

KeyOf = Callable[[str], str | None]  # inferer address -> attestation key (None: unregistered)


class ClaimError(HeliomeshError):
    """An energy claim from a peer is unsigned, wrongly signed, stale or malformed."""


def _sig(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ClaimError(f"{what} must be a 0x hex string")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ClaimError(f"{what} is not hex") from exc
    if len(raw) != 65:
        raise ClaimError(f"{what} must be 65 bytes, got {len(raw)}")
    return raw


def _extras(extras: Any) -> dict[str, Any]:
    if not isinstance(extras, dict):
        raise ClaimError("extras must be an object")
    capacity, sessions = extras.get("capacity", 0), extras.get("sessions", 0)
    zone, span, clock_t = extras.get("utc_offset_h"), extras.get("span"), extras.get("clock_t")
    if not isinstance(capacity, int) or not 0 <= capacity <= 10_000:
        raise ClaimError(f"capacity {capacity!r} out of range 0..10000")
    if not isinstance(sessions, int) or not 0 <= sessions <= 10**6:
        raise ClaimError(f"sessions {sessions!r} out of range")
    if zone is not None and (not isinstance(zone, int | float) or not -14 <= zone <= 14):
        raise ClaimError(f"utc_offset_h {zone!r} out of range -14..14")
    if clock_t is not None and (not isinstance(clock_t, int | float) or not 0 <= clock_t < 2**33):
        raise ClaimError(f"clock_t {clock_t!r} is not unix seconds")
    if span is not None and (
        not isinstance(span, list) or len(span) != 2 or not all(isinstance(b, int) for b in span)
        or not 0 <= span[0] < span[1] <= 4096
    ):
        raise ClaimError(f"span {span!r} is not [start, end) blocks")
    return extras


def verify_payload(
    data: bytes, domain: Domain, key_of: KeyOf, now: float, *, max_age_s: float = 900.0,
    max_future_s: float = 120.0,
) -> EnergyClaim:
    """A verified claim from a DHT payload, or ``ClaimError``."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ClaimError(f"energy payload is {len(data)} bytes, over {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(data)
        fields = doc["report"]
        report = EnergyReport(*(fields[name] for name, _ in EnergyReport.FIELDS))
    except (ValueError, KeyError, TypeError) as exc:
        raise ClaimError(f"malformed energy payload: {exc}") from exc
    except ConfigError as exc:  # a field out of range for its Solidity type
        raise ClaimError(str(exc)) from exc
    key = key_of(report.inferer)
    if key is None:
        raise ClaimError(f"{report.inferer} has no registered attestation key")
    signature = _sig(doc.get("signature"), "signature")
    try:
        signer = report.recover(signature, domain)
    except Exception as exc:
        raise ClaimError(f"report signature does not recover: {exc}") from exc
    if signer.lower() != key.lower():
        raise ClaimError(f"report signed by {signer}, not by {report.inferer}'s key {key}")
    extras = _extras(doc.get("extras"))
    msg = encode_defunct(extras_message(report.digest(domain), extras))
    extras_signer = Account.recover_message(msg, signature=_sig(doc.get("extras_signature"), "extras_signature"))
    if extras_signer.lower() != key.lower():
        raise ClaimError("extras are not signed by the report's key")
    if report.timestamp < now - max_age_s:
        raise ClaimError(f"report is {now - report.timestamp:.0f} s old (max {max_age_s:.0f})")
    if report.timestamp > now + max_future_s:
        raise ClaimError(f"report is {report.timestamp - now:.0f} s in the future")
    span = extras.get("span")
    return EnergyClaim(
        inferer=report.inferer,
        state=InfererState(report.state),
        timestamp=float(report.timestamp),
        headroom_w=float(report.headroom_w),
        available_w=float(report.available_power_w),
        battery_soc=report.battery_soc_bps / BPS if report.battery_soc_bps else None,
        nonce=report.nonce,
        capacity=extras.get("capacity", 0),
        sessions=extras.get("sessions", 0),
        utc_offset_h=extras.get("utc_offset_h"),
        span=(span[0], span[1]) if span else None,
        clock_time=float(extras["clock_t"]) if extras.get("clock_t") is not None else None,
    )


def claims_from(
    payloads: Iterable[bytes], domain: Domain, key_of: KeyOf, now: float, **limits: float
) -> list[EnergyClaim]:
    """Every payload that verifies; the others are logged (debug) and skipped."""
    out = []
    for data in payloads:
        try:
            out.append(verify_payload(data, domain, key_of, now, **limits))
        except ClaimError as exc:
            log.debug("ignoring energy claim: %s", exc)
    return out
