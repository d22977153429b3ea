"""Energy admission over real HTTP and a real swarm (the two energy-gated inferer processes
of ``energy_swarm``): with a ratio of 1 user per inferer the swarm holds one session; a
second one waits in the queue, then gets 503 ``at_capacity`` with Retry-After before
anything is charged — free tier and paid, streamed or not — and a session that finds a
slot freed while it waits is served."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gwkit import CLIENT, MODEL, QUESTION, wait_for_coverage

from gateway.app import create_app
from gateway.ratelimit import FreeTier
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import build_gateway
from gateway.swarm_view import swarm_served_model
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.client.vouchers import VOUCHER_HEADER, VoucherWallet

pytestmark = [pytest.mark.slow, pytest.mark.model]
QUEUE_S = 2.5
RETRY_AFTER = 42
BODY = {"model": MODEL, "messages": QUESTION, "max_tokens": 4, "temperature": 0}


@pytest.fixture(scope="module")
def tight(energy_swarm, smollm2_dir: Path) -> Iterator[tuple[str, Any]]:
    """A gateway allowing 1 user per inferer, with its own client (own energy scheduler)."""
    with SwarmClient(energy_swarm.initial_peers, config=ClientConfig(step_timeout_s=30)) as client:
        wait_for_coverage(client)
        settings = GatewaySettings(energy_users_per_inferer=1, energy_queue_s=QUEUE_S,
                                   energy_retry_after_s=RETRY_AFTER, max_concurrent_generations=4,
                                   free_requests_per_minute=3)
        gateway = build_gateway(settings, {MODEL: swarm_served_model(client, MODEL, smollm2_dir)})
        with GatewayServer(create_app(gateway)) as server:
            yield server.url, gateway


class Holder:
    """A long streamed generation that holds the swarm's only slot until ``close()``."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(timeout=120)
        # SmolLM2 greedily keeps counting for hundreds of tokens (no end-of-text early)
        body = {"model": MODEL, "prompt": ", ".join(str(i) for i in range(1, 21)) + ",",
                "max_tokens": 800, "stream": True, "temperature": 0}
        self.stream = self.client.stream("POST", f"{url}/v1/completions", json=body)
        self.response = self.stream.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self.lines = self.response.iter_lines()
        while '"text":"' not in (line := next(self.lines)) or '"text":""' in line:
            pass  # the route is open and tokens flow

    def close(self) -> None:
        self.stream.__exit__(None, None, None)
        self.client.close()


def _wallet(url: str, gateway: Any) -> VoucherWallet:
    info = httpx.get(f"{url}/v1/payments").json()
    channel = gateway.memory_channels.open(CLIENT.address, info["payee"], 10**18, int(time.time()) + 3600)
    return VoucherWallet.from_gateway_info(info, private_key=CLIENT.private_key, channel=channel)


def _at_capacity(response: httpx.Response, started: float) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "at_capacity"), error
    assert "nothing was charged" in error["message"] and "users per inferer" in error["message"]
    assert response.headers["Retry-After"] == str(RETRY_AFTER)
    assert time.monotonic() - started >= QUEUE_S - 0.5  # it waited in the queue first


def test_beyond_capacity_is_503_at_capacity_and_charges_nothing(tight) -> None:
    url, gateway = tight
    wallet = _wallet(url, gateway)
    voucher = wallet.header(10**15)
    holder = Holder(url)  # free request 1 of 3 this minute
    try:
        gate = gateway.energy_gates[MODEL]
        assert gate.scheduler.active == 1 and gateway.generator.active == 1
        t0 = time.monotonic()
        _at_capacity(httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=60), t0)  # free
        t0 = time.monotonic()
        _at_capacity(httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=60,
                                headers={VOUCHER_HEADER: voucher}), t0)  # paid
        t0 = time.monotonic()
        with httpx.stream("POST", f"{url}/v1/chat/completions", json={**BODY, "stream": True},
                          timeout=60) as streamed:  # refused before the stream starts
            streamed.read()
            _at_capacity(streamed, t0)
        # A bad voucher is refused at once (402), not queued and then sent to retry later.
        t0 = time.monotonic()
        bad = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=60,
                         headers={VOUCHER_HEADER: wallet.header(10**15, model_id="another-model")})
        assert bad.status_code == 402 and bad.json()["error"]["code"] == "wrong_model", bad.text
        assert time.monotonic() - t0 < QUEUE_S
        assert gate.refused == 3 and gate.scheduler.active == 1
        assert gateway.generator.active == 1, "the holder ended early: the test proved nothing"
        assert wallet.channel not in gateway.desk.accounts  # the voucher was never looked at
    finally:
        holder.close()
    # Nothing was lost: the same voucher pays once the slot is free, and the refused free
    # requests did not count against the 3 a minute (holder + 2 more pass).
    paid = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=120, headers={VOUCHER_HEADER: voucher})
    assert paid.status_code == 200, paid.text
    for _ in range(2):
        free = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=120)
        assert free.status_code == 200, free.text
    assert httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=120).status_code == 429


def test_a_waiting_session_gets_the_slot_freed_meanwhile(tight) -> None:
    url, gateway = tight
    gateway.free_tier = FreeTier(100, 100_000)  # the first test used up this IP's minute
    holder = Holder(url)
    answers: list[httpx.Response] = []
    waiter = threading.Thread(target=lambda: answers.append(
        httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=120)))
    t0 = time.monotonic()
    waiter.start()
    gate = gateway.energy_gates[MODEL]
    while gate.waiting < 1:  # it is in the queue
        assert time.monotonic() - t0 < QUEUE_S, "the second session was not queued"
        time.sleep(0.05)
    holder.close()  # the client goes away: its route closes, its slot frees
    waiter.join(120)
    assert answers and answers[0].status_code == 200, answers and answers[0].text
    assert answers[0].json()["usage"]["completion_tokens"] > 0
    assert time.monotonic() - t0 < QUEUE_S + 5  # admitted from the queue, not after a refusal
    assert gate.waiting == 0
    deadline = time.monotonic() + 10
    while gate.scheduler.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gate.scheduler.active == 0  # every slot given back
