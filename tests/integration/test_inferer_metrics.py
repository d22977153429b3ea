"""``helio node serve --metrics-port``: two real inferer processes (SmolLM2 blocks 0:15 and
15:30, the first behind the energy gate) serve a generation through the swarm; their
Prometheus endpoints, scraped over HTTP, show the steps, tokens, sessions, step latency
histogram, pushes, KV cache, state and energy moving."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.swarm_client import SwarmClient
from node.harness.swarm import LocalSwarm

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
PROMPT = [{"role": "user", "content": "Name three colors."}]
NEW_TOKENS = 4

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Samples:
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def swarm(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSwarm, list[int]]]:
    ports = [_free_port(), _free_port()]
    with LocalSwarm(smollm2_dir, tmp_path_factory.mktemp("swarm-logs"), refresh_s=5) as local:
        local.start_bootstrap()
        local.start_inferer((0, 15), wait=False, extra_args=[
            "--metrics-port", str(ports[0]), "--throughput", "50",
            "--energy", "fixed", "--energy-watts", "1000", "--no-energy-enforce"])
        local.start_inferer((15, 30), wait=False, extra_args=[
            "--metrics-port", str(ports[1]), "--throughput", "50", "--cache-tokens", "4096"])
        local.wait_ready()
        yield local, ports


def test_a_generation_moves_the_inferers_metrics(swarm: tuple[LocalSwarm, list[int]], smollm2_dir: Path) -> None:
    local, (first, second) = swarm
    before = [scrape(first), scrape(second)]
    for samples in before:
        assert value(samples, "heliomesh_inferer_steps_total") == 0
        assert value(samples, "heliomesh_inferer_sessions_open") == 0
        assert value(samples, "heliomesh_inferer_state", state="online") == 1
        assert value(samples, "heliomesh_inferer_spot_checks_passed_total") == 0
        assert value(samples, "heliomesh_inferer_spot_checks_failed_total") == 0
    assert value(before[1], "heliomesh_inferer_kv_cache_tokens_capacity") == 4096
    assert value(before[1], "heliomesh_inferer_kv_cache_tokens_used") == 0
    assert value(before[0], "heliomesh_inferer_energy_state", state="online") == 1
    assert value(before[0], "heliomesh_inferer_energy_headroom_watts") > 0
    assert value(before[0], "heliomesh_inferer_attestations_total") >= 1
    assert ("heliomesh_inferer_energy_state", frozenset({("state", "online")})) not in before[1]

    client_model = ClientModel(smollm2_dir)
    during: list[Samples] = []
    with SwarmClient(local.initial_peers) as client:
        route = client.route(MODEL, 30, 576)
        ids = client_model.encode_chat(PROMPT)
        tokens: list[int] = []
        for token in generate_tokens(client_model, route, ids, SamplingParams(max_new_tokens=NEW_TOKENS)):
            tokens.append(token)
            if len(tokens) == 2:  # mid-generation: the session is open, its cache reserved
                during.append(scrape(second))
        steps = route.step_index
    assert len(tokens) == NEW_TOKENS and steps >= NEW_TOKENS
    assert value(during[0], "heliomesh_inferer_sessions_open") == 1
    assert value(during[0], "heliomesh_inferer_kv_cache_tokens_used") > 0

    deadline = time.monotonic() + 15  # the route closed: the servers see the streams end
    while time.monotonic() < deadline:
        after = [scrape(first), scrape(second)]
        if all(value(s, "heliomesh_inferer_sessions_open") == 0 for s in after):
            break
        time.sleep(0.2)
    for samples in after:
        assert value(samples, "heliomesh_inferer_sessions_open") == 0
        assert value(samples, "heliomesh_inferer_sessions_opened_total") == 1
        assert value(samples, "heliomesh_inferer_steps_total") == steps
        assert value(samples, "heliomesh_inferer_step_seconds_count") == steps
        assert value(samples, "heliomesh_inferer_step_seconds_bucket", le="+Inf") == steps
        assert value(samples, "heliomesh_inferer_step_seconds_sum") > 0
        # the prefill step carries the whole prompt, then one token per decode step
        assert value(samples, "heliomesh_inferer_tokens_total") == len(ids) + steps - 1
        assert value(samples, "heliomesh_inferer_kv_cache_tokens_used") == 0
    assert value(after[0], "heliomesh_inferer_pushes_total") == steps  # 0:15 pushes to 15:30
    assert value(after[0], "heliomesh_inferer_push_failures_total") == 0
    assert value(after[1], "heliomesh_inferer_pushes_total") == 0  # the last hop answers the client
    span: Any = next(labels for name, labels in after[1] if name == "heliomesh_inferer_span")
    assert dict(span)["start"] == "15" and dict(span)["end"] == "30" and dict(span)["model"] == MODEL
