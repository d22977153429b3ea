"""``helio node serve --manifest-cid CID --blocks auto`` (issue #15): the inferer fetches the
manifest, chooses its span from the swarm, fetches only that span's blocks over IPFS and
announces a record that names the manifest CID of the weights it serves."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.client.swarm_client import SwarmClient
from node.harness.swarm import LocalSwarm
from node.ipfs import open_store, publish_model
from node.models.tiny import write_tiny_model

pytestmark = pytest.mark.slow


def test_auto_blocks_with_a_manifest_cid_fetch_only_the_chosen_span(tmp_path: Path) -> None:
    model_dir = write_tiny_model("llama", tmp_path / "tiny")  # 4 blocks
    with open_store("embedded", data_dir=tmp_path / "publisher") as publisher:
        published = publish_model(model_dir, publisher)
        cache = tmp_path / "inferer-cache"
        with LocalSwarm(model_dir, tmp_path / "logs", extra_env={"HELIO_CACHE_DIR": str(cache)}) as swarm:
            swarm.start_bootstrap()
            inferer = swarm.start_inferer(None, extra_args=[
                "--manifest-cid", published.manifest_cid, "--ipfs-peer", publisher.addrs()[0],
                "--num-blocks", "2", "--throughput", "10"])
            assert inferer.blocks is not None and inferer.blocks[1] - inferer.blocks[0] == 2
            fetched = cache / "fetched" / published.manifest_cid
            blocks = sorted(p.name for p in fetched.glob("block_*.safetensors"))
            assert blocks == [f"block_{i:03d}.safetensors" for i in range(*inferer.blocks)]
            with SwarmClient(swarm.initial_peers) as client:
                deadline = time.monotonic() + 30
                while inferer.peer_id not in client.records("tiny-llama", 4):
                    assert time.monotonic() < deadline
                    time.sleep(0.5)
                record = client.records("tiny-llama", 4)[inferer.peer_id]
                assert record.manifest_cid == published.manifest_cid and record.problem is None
