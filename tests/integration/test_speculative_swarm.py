"""Speculative decoding through a real swarm: a bootstrap and three inferer processes
(SmolLM2 blocks 0:10, 10:20, 20:30). The route negotiates the family's fp16 codec with
the servers' records; prompt-lookup drafts are verified k at a time and rejected tokens
roll back the KV caches on every server; greedy output equals plain swarm decoding token
for token in fewer route steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hivemind.proto import runtime_pb2

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.speculative import SpeculativeStats, generate_speculative
from node.client.swarm_client import SwarmClient
from node.harness.swarm import LocalSwarm

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
REPEAT = [{"role": "user", "content": (
    "Repeat this sentence exactly: The Rhine rises in the Swiss Alps and flows north to the "
    "North Sea.")}]


@pytest.fixture(scope="module")
def swarm(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSwarm]:
    with LocalSwarm(smollm2_dir, tmp_path_factory.mktemp("speculative-logs"), refresh_s=5) as local:
        local.start_bootstrap()
        for span in ((0, 10), (10, 20), (20, 30)):
            local.start_inferer(span, wait=False)
        local.wait_ready()
        yield local


def test_speculative_decoding_through_the_swarm_equals_plain_decoding(
    swarm: LocalSwarm, smollm2_dir: Path,
) -> None:
    model = ClientModel(smollm2_dir)
    prompt = model.encode_chat(REPEAT)
    params = SamplingParams(max_new_tokens=20)
    with SwarmClient(swarm.initial_peers) as client:
        client.wait_for_coverage(MODEL, 30)
        plain_route = client.route(MODEL, 30, 576)
        plain = list(generate_tokens(model, plain_route, prompt, params))
        # the route took the family's safe codec from the servers' records: fp16 on the wire
        assert plain_route.config.codec == "fp16"
        sent = plain_route.inputs[0][0]
        assert sent.compression == runtime_pb2.CompressionType.FLOAT16
        assert len(sent.buffer) == len(prompt) * 576 * 2

        stats = SpeculativeStats()
        route = client.route(MODEL, 30, 576)
        fast = list(generate_speculative(model, route, prompt, params, stats=stats))
    assert fast == plain
    assert stats.accepted > 0 and stats.steps < len(fast) - 1
    assert route.failovers == 0
