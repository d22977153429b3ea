"""Simulated geography on a real swarm: the last inferer runs in its own network
namespace (veth pair, ``tbf`` upload cap, ``node/swarm/netns.py``). Capping its upload
slows exactly what it sends (a long prefill's output) by the bytes over the rate, and the
tokens stay the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.harness.swarm import LocalSwarm
from node.swarm import netns

pytestmark = [
    pytest.mark.slow, pytest.mark.model,
    pytest.mark.skipif(netns.available() is not None, reason=str(netns.available())),
]
MODEL = "smollm2-135m-instruct"
PROMPT_TOKENS = 240
CAP_MBIT = 4.0


def test_upload_cap_on_a_namespaced_inferer_delays_its_output(smollm2_dir: Path, tmp_path: Path) -> None:
    client_model = ClientModel(smollm2_dir)
    ids = list(client_model.tokenizer.encode("The sun rises over the quiet sea. " * 40))[:PROMPT_TOKENS]
    params = SamplingParams(max_new_tokens=3)
    with netns.Namespace("helio-geo", index=7) as ns, \
            LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=5) as swarm:
        swarm.start_bootstrap(also_listen=[ns.root_ip])
        swarm.start_inferer((0, 10), wait=False)
        swarm.start_inferer((10, 20), wait=False)
        far = swarm.start_inferer((20, 30), wait=False, netns=ns.name, extra_args=["--host", ns.ns_ip])
        swarm.wait_ready()
        # raw float32 on the wire: the expected time below counts 4 bytes a value
        with SwarmClient(swarm.initial_peers, config=ClientConfig(codec="none")) as client:
            client.wait_for_coverage(MODEL, 30)

            def prefill_ms() -> tuple[float, list[int]]:
                route = client.route(MODEL, 30, 576)
                tokens = list(generate_tokens(client_model, route, ids, params))
                assert route.peers[-1][0] == far.peer_id
                return route.timings[0][0], tokens

            prefill_ms()  # warm up connections
            free, tokens = prefill_ms()
            ns.cap_upload(CAP_MBIT)
            capped, capped_tokens = prefill_ms()
            ns.cap_upload(None)
    output_bits = PROMPT_TOKENS * 576 * 4 * 8
    expected_ms = output_bits / (CAP_MBIT * 1e6) * 1e3  # ≈ 1.1 s for the prefill's output
    print(f"prefill through the namespaced inferer: {free:.0f} ms free, {capped:.0f} ms at "
          f"{CAP_MBIT} Mbit/s (its output alone needs {expected_ms:.0f} ms at that rate)")
    assert capped_tokens == tokens
    assert capped - free >= 0.8 * expected_ms, (free, capped, expected_ms)
    assert capped - free <= 3 * expected_ms + 2000, (free, capped, expected_ms)
