"""Fast checks of the IPFS layer's pieces: config, rate limiter, addresses, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.core.errors import ConfigError
from node.ipfs import IpfsBackendError, IpfsManifestError, RateLimiter, fetch_span, open_store
from node.ipfs.config import apply_config
from node.ipfs.embedded import EmbeddedStore
from node.ipfs.rpc import api_url


def test_apply_config_keeps_the_node_on_loopback() -> None:
    config = {"Bootstrap": ["/dnsaddr/bootstrap.libp2p.io/p2p/Qm"], "Addresses": {"Swarm": ["/ip4/0.0.0.0/tcp/4001"]},
              "Discovery": {"MDNS": {"Enabled": True}}, "Swarm": {}, "Routing": {"Type": "dht"}}
    apply_config(config)
    assert config["Bootstrap"] == []
    assert config["Addresses"]["Swarm"] == ["/ip4/127.0.0.1/tcp/0"]
    assert config["Discovery"]["MDNS"]["Enabled"] is False
    assert config["Swarm"]["DisableNatPortMap"] is True
    assert config["Routing"]["Type"] == "none"


def test_apply_config_public_mode_keeps_kubo_defaults() -> None:
    config = {"Bootstrap": ["/dnsaddr/x"], "Discovery": {"MDNS": {"Enabled": True}}}
    apply_config(config, listen=["/ip4/0.0.0.0/tcp/4001"], bootstrap=None, local_only=False)
    assert config["Bootstrap"] == ["/dnsaddr/x"]
    assert config["Discovery"]["MDNS"]["Enabled"] is True
    assert config["Addresses"]["Swarm"] == ["/ip4/0.0.0.0/tcp/4001"]


def test_apply_config_announces_and_peers_for_other_machines() -> None:
    config: dict[str, Any] = {}
    peer = "QmSJHqNxyAYeM8SCpnwsMBGUivz7xvs7cahvctjv43FNfS"
    apply_config(config, listen=["/ip4/0.0.0.0/tcp/4001"], announce=["/ip4/203.0.113.7/tcp/4001"],
                 peering=[f"/ip4/10.0.0.2/tcp/4001/p2p/{peer}", f"/ip4/10.0.0.3/tcp/4001/p2p/{peer}"])
    assert config["Addresses"]["Announce"] == ["/ip4/203.0.113.7/tcp/4001"]
    assert config["Peering"]["Peers"] == [
        {"ID": peer, "Addrs": ["/ip4/10.0.0.2/tcp/4001", "/ip4/10.0.0.3/tcp/4001"]}]
    with pytest.raises(ConfigError, match="/p2p/<peer id>"):
        apply_config({}, peering=["/ip4/10.0.0.2/tcp/4001"])


def test_rate_limiter_waits_only_past_the_burst() -> None:
    limiter = RateLimiter(10.0, burst_s=0.5)  # 10 MB/s, 5 MB burst
    assert limiter.consume(5_000_000) == 0.0
    start = time.perf_counter()
    slept = limiter.consume(2_000_000)
    assert 0.15 < slept <= 0.21
    assert time.perf_counter() - start >= 0.15
    with pytest.raises(ValueError, match="must be > 0"):
        RateLimiter(0)


def test_api_url_reads_multiaddrs_and_urls() -> None:
    assert api_url("/ip4/127.0.0.1/tcp/5001") == "http://127.0.0.1:5001"
    assert api_url("/ip6/::1/tcp/5001") == "http://[::1]:5001"
    assert api_url("http://127.0.0.1:5001/") == "http://127.0.0.1:5001"
    with pytest.raises(IpfsBackendError, match="cannot read Kubo API address"):
        api_url("localhost:5001")


def test_open_store_errors_say_what_to_pass() -> None:
    with pytest.raises(ConfigError, match="unknown IPFS backend 'ipns'"):
        open_store("ipns")
    with pytest.raises(ConfigError, match="needs a data dir"):
        open_store("embedded")
    with pytest.raises(ConfigError, match="needs the daemon's API URL"):
        open_store("kubo-rpc")


def test_fetch_rejects_a_malformed_cid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a CIDv0"):
        fetch_span("bafy-not-v0", 0, 1, None, tmp_path)  # type: ignore[arg-type]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[EmbeddedStore, EmbeddedStore]]:
    a, b = EmbeddedStore(tmp_path / "a"), EmbeddedStore(tmp_path / "b")
    yield a, b
    a.close()
    b.close()


def test_a_cid_that_is_not_a_manifest_is_refused(
    nodes: tuple[EmbeddedStore, EmbeddedStore], tmp_path: Path
) -> None:
    a, b = nodes
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"model_id": "x"}))
    cid = a.add(bogus)
    with pytest.raises(IpfsManifestError, match=f"{cid} is not a Heliomesh model manifest"):
        fetch_span(cid, 0, 1, b, tmp_path / "cache", peers=a.addrs(), timeout_s=10)
    assert not (tmp_path / "cache" / "fetched" / cid / "manifest.json").exists()


def test_a_repo_is_used_by_one_node_at_a_time(
    nodes: tuple[EmbeddedStore, EmbeddedStore], tmp_path: Path
) -> None:
    a, _ = nodes
    with pytest.raises(IpfsBackendError, match="already open in this process"):
        EmbeddedStore(tmp_path / "a")
    # another process: Kubo's repo lock refuses it, with a message saying what to do
    code = f"from node.ipfs.embedded import EmbeddedStore; EmbeddedStore(__import__('pathlib').Path({str(tmp_path / 'a')!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "another process probably holds its lock" in result.stderr
    assert "--data-dir" in result.stderr
    assert a.addrs()  # the first node is unharmed
