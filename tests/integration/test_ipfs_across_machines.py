"""Weights move between machines: an inferer in its own network namespace (its own
network stack, reachable only at its veth address, like another machine) fetches its
span from a publisher, then seeds it; once the publisher is gone, a fresh inferer on the
other side fetches the same blocks from that inferer alone (``--ipfs-listen``,
``--ipfs-peer``, Kubo Peering; node/ipfs/config.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from node.harness.swarm import LocalSwarm, SwarmProcess
from node.ipfs import open_store, publish_model
from node.swarm import netns

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(netns.available() is not None, reason=str(netns.available())),
]
SPAN = (27, 30)  # the last 3 blocks: small, so the test stays quick


def _ipfs_addr(proc: SwarmProcess, host: str, timeout: float = 30.0) -> str:
    """The inferer's IPFS multiaddr on ``host``, from its "IPFS node <id> on …" log line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # rich may wrap the line: search across line ends after "IPFS node"
        log = proc.log_path.read_text().partition("IPFS node ")[2][:1000]
        if m := re.search(rf"/ip4/{re.escape(host)}/tcp/\d+/p2p/\w+", log):
            return m.group(0)
        time.sleep(0.2)
    raise AssertionError(f"{proc.name} logged no IPFS address on {host}")


def _blocks(cache: Path, cid: str) -> list[str]:
    return sorted(p.name for p in (cache / "fetched" / cid).glob("block_*.safetensors"))


def test_a_fresh_inferer_fetches_blocks_only_an_inferer_on_another_machine_holds(
        smollm2_dir: Path, tmp_path: Path) -> None:
    expected = [f"block_{i:03d}.safetensors" for i in range(*SPAN)]
    with netns.Namespace("helio-ipfs", index=11) as ns, \
            LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=5) as swarm:
        swarm.start_bootstrap(also_listen=[ns.root_ip])
        publisher = open_store("embedded", data_dir=tmp_path / "publisher",
                               listen=[f"/ip4/{ns.root_ip}/tcp/0"])
        try:
            cid = publish_model(smollm2_dir, publisher).manifest_cid
            seeder_cache = tmp_path / "seeder-cache"
            seeder = swarm.start_inferer(
                SPAN, name="seeder", netns=ns.name, wait=False,
                initial_peers=[m for m in swarm.initial_peers if ns.root_ip in m],
                extra_args=["--host", ns.ns_ip, "--throughput", "10", "--manifest-cid", cid,
                            "--ipfs-peer", publisher.addrs()[0],
                            "--ipfs-listen", f"/ip4/{ns.ns_ip}/tcp/0"],
                extra_env={"HELIO_CACHE_DIR": str(seeder_cache)})
            swarm.wait_ready([seeder])
            assert _blocks(seeder_cache, cid) == expected
            seeder_addr = _ipfs_addr(seeder, ns.ns_ip)
        finally:
            publisher.close()  # from here on only the seeder holds the blocks

        fresh_cache = tmp_path / "fresh-cache"
        fresh = swarm.start_inferer(
            SPAN, name="fresh", wait=False,
            extra_args=["--throughput", "10", "--manifest-cid", cid, "--ipfs-peer", seeder_addr],
            extra_env={"HELIO_CACHE_DIR": str(fresh_cache)})
        swarm.wait_ready([fresh])
        assert _blocks(fresh_cache, cid) == expected
        assert fresh.blocks == SPAN  # it serves the span it fetched
