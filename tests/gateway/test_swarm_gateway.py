"""The gateway over a real swarm on loopback (a bootstrap + two inferer processes serving
SmolLM2 blocks 0:15 and 15:30, found through the DHT): the openai SDK gets the same greedy
answer as in-process, the dashboard lists both inferers and their blocks from the DHT,
and contribution accounting credits each inferer's address for the blocks it ran."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gwkit import MODEL, QUESTION, WEB

from gateway.app import create_app
from gateway.routes import ServedModel
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import build_gateway
from gateway.swarm import swarm_served_model
from node.chain.devkeys import DEV_ACCOUNTS
from node.client.swarm_route import ClientConfig, SwarmClient
from node.swarm.local import LocalSwarm

pytestmark = [pytest.mark.slow, pytest.mark.model]


ORPHAN = "nobody-serves-this"


def _wait_for_coverage(client: SwarmClient, timeout: float = 90.0) -> None:
    """The inferers are up; wait until their announcements are visible in the DHT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = {(r.start, r.end) for r in client.records(MODEL, 30).values()}
        if {(0, 15), (15, 30)} <= spans:
            return
        time.sleep(1)
    raise AssertionError(f"the DHT never showed both spans (saw {spans})")


@pytest.fixture(scope="module")
def swarm_gateway(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with LocalSwarm(smollm2_dir, tmp_path_factory.mktemp("swarm-logs"), refresh_s=5) as local:
        local.start_bootstrap()
        local.start_inferer((0, 15), dev_key=5, wait=False)
        local.start_inferer((15, 30), dev_key=6, wait=False)
        local.wait_ready()
        with SwarmClient(local.initial_peers, config=ClientConfig(step_timeout_s=30)) as client:
            _wait_for_coverage(client)
            served = swarm_served_model(client, MODEL, smollm2_dir)
            # A model nobody serves, with SmolLM2's client part: the planner finds no route.
            orphan = ServedModel(ORPHAN, served.client, lambda: client.route(ORPHAN, 30, 576), 30, [])
            gateway = build_gateway(GatewaySettings(), {MODEL: served, ORPHAN: orphan})
            dist = WEB / "dist"  # served if built; the browser test skips otherwise
            with GatewayServer(create_app(gateway, web_dist=dist if (dist / "index.html").is_file() else None)) as server:
                yield server.url, gateway


def test_swarm_answer_equals_in_process(swarm_gateway, gw) -> None:
    url, gateway = swarm_gateway
    body = {"model": MODEL, "messages": QUESTION, "max_tokens": 10, "temperature": 0}
    over_swarm = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=180).json()
    in_process = gw.openai().chat.completions.create(**body)
    assert over_swarm["choices"][0]["message"]["content"] == in_process.choices[0].message.content
    assert "Paris" in over_swarm["choices"][0]["message"]["content"]
    work = gateway.accounting.work
    tokens = over_swarm["usage"]["total_tokens"]
    assert work[DEV_ACCOUNTS[5].address] == 15 * tokens
    assert work[DEV_ACCOUNTS[6].address] == 15 * tokens


def test_dashboard_lists_the_inferers_from_the_dht(swarm_gateway) -> None:
    url, _ = swarm_gateway
    model = httpx.get(f"{url}/api/swarm", timeout=60).json()["models"][0]
    spans = sorted((s["start"], s["end"], s["address"]) for s in model["servers"])
    assert spans == [(0, 15, DEV_ACCOUNTS[5].address), (15, 30, DEV_ACCOUNTS[6].address)]
    assert model["gaps"] == []


def test_no_route_is_503_in_openai_shape(swarm_gateway) -> None:
    url, _ = swarm_gateway
    body = {"model": ORPHAN, "messages": QUESTION, "max_tokens": 2}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
    assert r.status_code == 503 and r.headers["Retry-After"]
    error = r.json()["error"]
    assert error["code"] == "swarm_unavailable" and "no server covers" in error["message"]
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}, timeout=120) as s:
        lines = [line for line in s.iter_lines() if line]
    assert '"swarm_unavailable"' in lines[-2] and lines[-1] == "data: [DONE]"


def test_browser_dashboard_shows_the_swarm_inferers(swarm_gateway, web_dist, artifacts) -> None:
    """Headless Chromium: a chat answer streamed through the swarm, and the dashboard
    listing both inferer processes with their blocks (as in `make demo`)."""
    from test_web import browse

    url, _ = swarm_gateway
    where = artifacts("swarm")
    seen = browse(url, where)
    assert "Paris" in seen["answer"] and seen["partial_states"] >= 2
    shown = seen["models"][MODEL]
    assert sorted(shown["servers"]) == ["0–14", "15–29"]
    assert (shown["blocks"], shown["gap_blocks"]) == (30, 0)
    assert seen["models"][ORPHAN] == {"servers": [], "blocks": 30, "gap_blocks": 30}  # all gaps
    assert (where / "dashboard.png").stat().st_size > 5_000
