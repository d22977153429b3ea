"""An inferer that fetches only its span's files over IPFS (``--manifest-cid``) from a
publisher's embedded Kubo node, verifies them, and serves them in the swarm."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.client.swarm_client import SwarmClient
from node.harness.swarm import LocalSwarm
from node.ipfs import open_store, publish_model

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"


def test_inferer_fetches_only_its_span_by_manifest_cid_and_serves_it(smollm2_dir: Path, tmp_path: Path) -> None:
    with open_store("embedded", data_dir=tmp_path / "publisher") as publisher:
        published = publish_model(smollm2_dir, publisher)
        cache = tmp_path / "inferer-cache"
        with LocalSwarm(smollm2_dir, tmp_path / "logs", extra_env={"HELIO_CACHE_DIR": str(cache)}) as swarm:
            swarm.start_bootstrap()
            inferer = swarm.start_inferer((10, 20), extra_args=[
                "--manifest-cid", published.manifest_cid, "--ipfs-peer", publisher.addrs()[0],
                "--throughput", "10"])
            assert inferer.blocks == (10, 20)
            fetched = cache / "fetched" / published.manifest_cid
            blocks = sorted(p.name for p in fetched.glob("block_*.safetensors"))
            assert blocks == [f"block_{i:03d}.safetensors" for i in range(10, 20)]
            with SwarmClient(swarm.initial_peers) as client:
                deadline = time.monotonic() + 30
                while inferer.peer_id not in client.records(MODEL, 30):
                    assert time.monotonic() < deadline
                    time.sleep(0.5)
                assert client.records(MODEL, 30)[inferer.peer_id].state == "online"
