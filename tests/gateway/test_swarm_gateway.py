"""The gateway over a real swarm on loopback (a bootstrap + two inferer processes serving
SmolLM2 blocks 0:15 and 15:30 behind the energy gate, found through the DHT): the openai
SDK gets the same greedy answer as in-process, the dashboard lists both inferers, their
blocks and their verified energy from the DHT, and contribution accounting credits each
inferer's address for the blocks it ran."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gwkit import MODEL, QUESTION, WEB, wait_for_coverage

from gateway.app import create_app
from gateway.served_model import ServedModel
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import build_gateway
from gateway.swarm_view import swarm_served_model
from node.chain.devkeys import DEV_ACCOUNTS
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig

pytestmark = [pytest.mark.slow, pytest.mark.model]


ORPHAN = "nobody-serves-this"


@pytest.fixture(scope="module")
def swarm_gateway(energy_swarm, smollm2_dir: Path) -> Iterator[tuple]:
    with SwarmClient(energy_swarm.initial_peers, config=ClientConfig(step_timeout_s=30)) as client:
        wait_for_coverage(client)
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
    # Each inferer's energy: its signed DHT report, verified: 1000 W less the machine's draw
    # (120 W idle, +22.5 W per open session; a report may still count the last request's).
    now = time.time()
    for server, offset in zip(sorted(model["servers"], key=lambda s: s["start"]), (1, 8), strict=True):
        energy = server["energy"]
        assert energy["source"] == "dht" and energy["verified"] and not energy["stale"], energy
        assert (energy["state"], energy["capacity"]) == ("online", 8) and 700 <= energy["headroom_w"] <= 880
        assert energy["utc_offset_h"] == offset and energy["battery_soc"] is None
        local = [time.strftime("%H:%M", time.gmtime(now + offset * 3600 + d)) for d in (-120, -60, 0)]
        assert energy["local_time"] in local, (energy, local)
    assert model["energy_admission"]["users_per_inferer"] == 8


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
    # the energy columns, from the verified DHT reports
    assert shown["energy"] == ["online", "online"] and shown["energy_source"] == ["dht", "dht"]
    assert all(700 <= int(h.split(" ")[0]) <= 880 for h in shown["headroom"]), shown["headroom"]
    assert shown["battery"] == ["–", "–"]
    assert [c.split("/")[1] for c in shown["capacity"]] == ["8", "8"]
    assert [c.split(" ")[-1] for c in shown["local"]] == ["UTC+1", "UTC+8"]
    orphan = seen["models"][ORPHAN]
    assert (orphan["servers"], orphan["blocks"], orphan["gap_blocks"]) == ([], 30, 30)  # all gaps
    assert (where / "dashboard.png").stat().st_size > 5_000
