"""``KuboRpcStore`` (a Kubo daemon over HTTP RPC): against a real daemon when one is
reachable (HELIO_TEST_KUBO_API, default http://127.0.0.1:5001), and always against
kubo_rpc_shim.py (the RPC API answered by a real embedded Kubo node; see its note)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ipfs_helpers import Publisher
from kubo_rpc_shim import KuboRpcShim

from node.core.cid import cid_of_bytes, cid_of_file
from node.ipfs import IpfsBackendError, IpfsTimeoutError, RateLimiter, fetch_model
from node.ipfs.embedded import EmbeddedStore
from node.ipfs.rpc import KuboRpcStore, api_url

DAEMON_API = os.environ.get("HELIO_TEST_KUBO_API", "http://127.0.0.1:5001")


@pytest.fixture(params=["shim", "daemon"])
def rpc(
    request: pytest.FixtureRequest, make_store: Callable[[str], EmbeddedStore], tmp_path: Path
) -> Iterator[KuboRpcStore]:
    if request.param == "daemon":
        try:
            httpx.post(f"{api_url(DAEMON_API)}/api/v0/version", timeout=1.0).raise_for_status()
        except httpx.HTTPError as exc:
            pytest.skip(f"no Kubo daemon at {DAEMON_API} ({exc.__class__.__name__}); "
                        "set HELIO_TEST_KUBO_API to test against a real one")
        store = KuboRpcStore(DAEMON_API)
        yield store
        store.close()
        return
    (tmp_path / "shim").mkdir()
    shim = KuboRpcShim(make_store("behind-shim"), tmp_path / "shim")
    store = KuboRpcStore(shim.url)
    store.shim = shim  # type: ignore[attr-defined]
    try:
        yield store
    finally:
        store.close()
        shim.close()


def sample(tmp_path: Path, size: int, seed: int) -> Path:
    path = tmp_path / f"sample-{seed}.bin"
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def test_rpc_add_gives_the_pinned_cidv0(rpc: KuboRpcStore, tmp_path: Path) -> None:
    path = sample(tmp_path, 3 * 262144 + 7, seed=1)
    cid = rpc.add(path)
    assert cid == cid_of_file(path)
    assert cid in rpc.pinned()
    assert rpc.peer_id and all("/p2p/" in a for a in rpc.addrs())


def test_rpc_get_resumes_a_partial_file(rpc: KuboRpcStore, tmp_path: Path) -> None:
    path = sample(tmp_path, 2_000_000, seed=2)
    cid = rpc.add(path)
    dest = tmp_path / "out.bin"
    dest.write_bytes(path.read_bytes()[:1_234_567])  # what an interrupted run left
    seen: list[int] = []
    rpc.get(cid, dest, on_bytes=seen.append)
    assert dest.read_bytes() == path.read_bytes()
    assert seen[0] == 1_234_567 and sum(seen) == 2_000_000


def test_rpc_stream_honours_the_bandwidth_cap(rpc: KuboRpcStore, tmp_path: Path) -> None:
    path = sample(tmp_path, 10_000_000, seed=3)
    cid = rpc.add(path)
    start = time.perf_counter()
    rpc.get(cid, tmp_path / "capped.bin", limiter=RateLimiter(5.0))
    # 10 MB at 5 MB/s with a 2.5 MB burst allowance: at least 1.5 s.
    assert time.perf_counter() - start >= 1.5
    assert (tmp_path / "capped.bin").read_bytes() == path.read_bytes()


def test_rpc_missing_cid_times_out(rpc: KuboRpcStore, tmp_path: Path) -> None:
    missing = cid_of_bytes(b"nobody has this " + os.urandom(8))
    with pytest.raises(IpfsTimeoutError, match=f"no data for {missing} within 1 s"):
        rpc.get(missing, tmp_path / "missing.bin", timeout_s=1)


@pytest.mark.slow
@pytest.mark.model
def test_rpc_fetches_a_span_of_the_real_model(
    rpc: KuboRpcStore, publisher: Publisher, tmp_path: Path
) -> None:
    result = fetch_model(publisher.manifest_cid, rpc, tmp_path / "cache", span=(29, 30),
                         peers=publisher.addrs)
    assert sorted(result.fetched) == ["block_029.safetensors", "config.json"]
    result.manifest.verify(result.model_dir, result.fetched)
    assert result.manifest.files["block_029.safetensors"].cid in rpc.pinned()


def test_rpc_unreachable_daemon_is_a_clear_error() -> None:
    with pytest.raises(IpfsBackendError, match=r"cannot reach the Kubo daemon at http://127.0.0.1:9 .*--api"):
        KuboRpcStore("/ip4/127.0.0.1/tcp/9")
