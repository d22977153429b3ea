"""Signed energy payloads: referees accept the registered key's fresh claims only."""

from __future__ import annotations

import json
import time

import pytest

from node.chain.devkeys import DEV_ACCOUNTS
from node.crypto.eip712 import ENERGY_DOMAIN_NAME, Domain
from node.energy.attest import EnergyAttester, PostingPolicy, build_report, sign_payload
from node.energy.controller import Decision
from node.energy.reading import EnergyReading
from node.energy.state import InfererState
from node.referee.energy import EnergyBook, EnergyScheduler, planner_penalty
from node.referee.energy_claims import ClaimError, claims_from, verify_payload

ALICE, MALLORY = DEV_ACCOUNTS[1], DEV_ACCOUNTS[2]
DOMAIN = Domain(ENERGY_DOMAIN_NAME, 31337, "0x" + "11" * 20)
NOW = 1_774_008_000.0


def key_of(address: str) -> str | None:
    return ALICE.address if address == ALICE.address else None


def payload(*, t: float = NOW, key: str = ALICE.private_key, state=InfererState.ONLINE, **extras):
    r = EnergyReading(t, "test", 1500.0, 900.0, 0.6)
    report = build_report(ALICE.address, r, state, 165.0, int(t * 1000), int(t))
    ex = {"capacity": 8, "sessions": 2, "utc_offset_h": 1.0, "span": [0, 30], **extras}
    return sign_payload(report, ex, key, DOMAIN)


def test_signed_payload_round_trips_into_a_claim() -> None:
    claim = verify_payload(payload().to_bytes(), DOMAIN, key_of, NOW + 5)
    assert claim.inferer == ALICE.address and claim.state is InfererState.ONLINE
    assert claim.headroom_w == 735.0  # beyond the 165 W the machine draws
    assert (claim.available_w, claim.battery_soc, claim.capacity, claim.sessions) == (1500.0, 0.6, 8, 2)
    assert (claim.utc_offset_h, claim.span) == (1.0, (0, 30))


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d["report"].__setitem__("headroomW", 99_999), "signed by"),
        (lambda d: d["extras"].__setitem__("capacity", 500), "extras are not signed"),
        (lambda d: d.__setitem__("signature", "0x1234"), "65 bytes"),
        (lambda d: d["report"].__setitem__("batterySocBps", 20_000), "exceeds"),
        (lambda d: d["report"].pop("nonce"), "malformed"),
        (lambda d: d["extras"].__setitem__("utc_offset_h", 30), "utc_offset_h"),
    ],
)
def test_tampered_payloads_are_refused(mutate, match) -> None:
    doc = json.loads(payload().to_bytes())
    mutate(doc)
    with pytest.raises(ClaimError, match=match):
        verify_payload(json.dumps(doc).encode(), DOMAIN, key_of, NOW)


def test_wrong_key_stale_future_and_unregistered_are_refused() -> None:
    with pytest.raises(ClaimError, match="signed by"):
        verify_payload(payload(key=MALLORY.private_key).to_bytes(), DOMAIN, key_of, NOW)
    with pytest.raises(ClaimError, match="old"):
        verify_payload(payload().to_bytes(), DOMAIN, key_of, NOW + 1000)
    with pytest.raises(ClaimError, match="future"):
        verify_payload(payload(t=NOW + 600).to_bytes(), DOMAIN, key_of, NOW)
    with pytest.raises(ClaimError, match="no registered attestation key"):
        verify_payload(payload().to_bytes(), DOMAIN, lambda a: None, NOW)
    other_chain = Domain(ENERGY_DOMAIN_NAME, 1, "0x" + "11" * 20)
    with pytest.raises(ClaimError, match="signed by"):
        verify_payload(payload().to_bytes(), other_chain, key_of, NOW)
    good = payload().to_bytes()
    assert len(claims_from([b"{}", good, b"junk"], DOMAIN, key_of, NOW)) == 1


def test_posting_policy_posts_state_changes_and_rate_limits() -> None:
    policy = PostingPolicy(min_interval_s=3600)
    posts = []
    for t in range(0, 7200, 5):
        state = InfererState.ONLINE if t < 5000 else InfererState.DRAINING
        if policy.due(float(t), state):
            policy.record(float(t), state)
            posts.append((t, state))
    assert posts == [(0, InfererState.ONLINE), (3600, InfererState.ONLINE), (5000, InfererState.DRAINING)]


def test_attester_signs_every_report_with_increasing_nonces() -> None:
    clock = iter([NOW + i for i in range(100)])
    att = EnergyAttester(ALICE.address, ALICE.private_key, DOMAIN, wall_clock=lambda: next(clock),
                         extras=lambda: {"sessions": 1, "draw_w": 142.5})
    decision = Decision(InfererState.ONLINE, None, 8, 900.0, 0.5, False, True)
    nonces = []
    for _ in range(3):
        att(0.0, EnergyReading(NOW, "t", 1000.0, 800.0, 0.5), decision)
        assert att.latest is not None
        nonces.append(att.latest.report.nonce)
        claim = verify_payload(att.latest.to_bytes(), DOMAIN, key_of, NOW + 10)
        assert claim.headroom_w == round(800.0 - 142.5) and claim.sessions == 1
    assert nonces == sorted(set(nonces))
    assert att.posted == 1  # same state within the interval: posted once


def test_planner_penalty_prefers_headroom() -> None:
    from node.referee.energy import EnergyClaim

    book = EnergyBook()
    sched = EnergyScheduler(book)
    book.update(EnergyClaim("0xA", InfererState.ONLINE, NOW, 600.0, capacity=8, utc_offset_h=-5))
    book.update(EnergyClaim("0xB", InfererState.ONLINE, NOW, 0.0, capacity=8, utc_offset_h=8))

    class Rec:
        def __init__(self, address: str) -> None:
            self.address = address

    penalty = planner_penalty(sched, lambda: NOW)
    assert penalty(Rec("0xA")) < penalty(Rec("0xB")) < penalty(Rec("0xUnknown"))


def test_signing_is_fast_enough_for_every_poll() -> None:
    t = time.perf_counter()
    for i in range(10):
        payload(t=NOW + i)
    assert (time.perf_counter() - t) / 10 < 0.5  # seconds per report; polls are 5 s apart
