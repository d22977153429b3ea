"""Publish real SmolLM2 on one node, fetch spans on others over loopback (embedded Kubo)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from ipfs_helpers import Publisher, start_publisher

from node.core.cid import cid_of_file
from node.core.errors import ModelCacheError
from node.core.files import sha256_file
from node.core.manifest import MANIFEST_NAME, Manifest
from node.engine.span import Span
from node.ipfs import (
    IpfsStore,
    IpfsTimeoutError,
    fetch_model,
    fetch_span,
    manifest_cid,
)
from node.ipfs.embedded import EmbeddedStore
from node.ipfs.fetch import PARTIAL_DIR

pytestmark = [pytest.mark.slow, pytest.mark.model]

MakeStore = Callable[[str], EmbeddedStore]


def block_files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("block_*.safetensors"))


def test_publish_prints_the_manifest_cid(publisher: Publisher, smollm2_dir: Path) -> None:
    assert publisher.manifest_cid == manifest_cid(smollm2_dir) == cid_of_file(smollm2_dir / MANIFEST_NAME)
    assert all(a.startswith("/ip4/127.0.0.1/tcp/") and "/p2p/" in a for a in publisher.addrs)


def test_fetch_span_gets_only_its_blocks_verified(
    publisher: Publisher, make_store: MakeStore, tmp_path: Path, smollm2_dir: Path
) -> None:
    store = make_store("b")
    result = fetch_model(
        publisher.manifest_cid, store, tmp_path / "cache", span=(4, 7), peers=publisher.addrs
    )
    assert block_files_in(result.model_dir) == [f"block_00{i}.safetensors" for i in (4, 5, 6)]
    assert sorted(result.fetched) == ["block_004.safetensors", "block_005.safetensors",
                                      "block_006.safetensors", "config.json"]
    for name in result.fetched:
        assert sha256_file(result.model_dir / name) == sha256_file(smollm2_dir / name)
    assert not (result.model_dir / PARTIAL_DIR).exists()
    # pinned: this node now serves them
    manifest = result.manifest
    assert {manifest.files[n].cid for n in result.fetched} | {publisher.manifest_cid} <= store.pinned()
    # a second call moves nothing
    again = fetch_model(publisher.manifest_cid, store, tmp_path / "cache", span=(4, 7))
    assert again.fetched == [] and sorted(again.reused) == sorted(result.fetched)


def test_seeding_serves_a_third_node_after_the_publisher_dies(
    smollm2_dir: Path, make_store: MakeStore, tmp_path: Path
) -> None:
    publisher = start_publisher(smollm2_dir, tmp_path / "publisher")
    try:
        second = make_store("second")
        model_b = fetch_span(publisher.manifest_cid, 0, 2, second, tmp_path / "cache-b",
                             peers=publisher.addrs, progress=True)
    finally:
        publisher.kill()
    third = make_store("third")
    # the third node knows only the second one
    model_c = fetch_span(publisher.manifest_cid, 0, 2, third, tmp_path / "cache-c",
                         peers=second.addrs(), timeout_s=10)
    assert second.peer_id in third.connected_peers()
    assert block_files_in(model_c) == ["block_000.safetensors", "block_001.safetensors"]
    # the fetched span computes exactly what the original files compute
    hidden_size = Manifest.load(model_c).hidden_size
    hidden = torch.randn(1, 5, hidden_size, generator=torch.Generator().manual_seed(0))
    positions = torch.arange(5).unsqueeze(0)
    outputs = []
    for directory in (smollm2_dir, model_b, model_c):
        span = Span(directory, 0, 2)
        outputs.append(span(hidden, positions, span.new_cache()))
    assert torch.equal(outputs[1], outputs[0]) and torch.equal(outputs[2], outputs[0])


def test_corrupt_cached_file_is_rejected_and_fetched_again(
    publisher: Publisher, make_store: MakeStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store("b")
    model_dir = fetch_span(publisher.manifest_cid, 7, 9, store, tmp_path / "cache", peers=publisher.addrs)
    victim = model_dir / "block_008.safetensors"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # flip one bit in the weights
    victim.write_bytes(bytes(data))
    with pytest.raises(ModelCacheError, match="block_008.safetensors is corrupt"):
        Span(model_dir, 7, 9)
    with caplog.at_level(logging.WARNING, logger="node.ipfs.fetch"):
        result = fetch_model(publisher.manifest_cid, store, tmp_path / "cache", span=(7, 9))
    assert result.refetched == ["block_008.safetensors"]
    assert "cached block_008.safetensors is corrupt (sha256 mismatch)" in caplog.text
    Manifest.load(model_dir).verify(model_dir, ["block_007.safetensors", "block_008.safetensors"])


class FlippingStore(IpfsStore):
    """A real store whose first ``flips`` downloads of ``cid`` come back with one bit
    flipped: how a lying daemon or a damaged disk looks to the fetcher (the only fake
    in this file)."""

    backend = "embedded"

    def __init__(self, inner: EmbeddedStore, cid: str, flips: int) -> None:
        self.inner, self.cid, self.flips = inner, cid, flips

    def get(self, cid: str, dest: Path, **kwargs: object) -> None:  # type: ignore[override]
        self.inner.get(cid, dest, **kwargs)  # type: ignore[arg-type]
        if cid == self.cid and self.flips > 0:
            self.flips -= 1
            data = bytearray(dest.read_bytes())
            data[1000] ^= 0x80
            dest.write_bytes(bytes(data))

    peer_id = property(lambda self: self.inner.peer_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def addrs(self) -> list[str]:
        return self.inner.addrs()

    def connect(self, multiaddr: str) -> bool:
        return self.inner.connect(multiaddr)

    def connected_peers(self) -> list[str]:
        return self.inner.connected_peers()

    def add(self, path: Path) -> str:
        return self.inner.add(path)

    def pin(self, cid: str) -> None:
        self.inner.pin(cid)

    def pinned(self) -> set[str]:
        return self.inner.pinned()

    def close(self) -> None:
        self.inner.close()


def test_flipped_byte_in_transit_is_rejected_and_refetched(
    publisher: Publisher, make_store: MakeStore, tmp_path: Path, smollm2_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim = Manifest.load(smollm2_dir).files["block_010.safetensors"].cid
    store = FlippingStore(make_store("b"), victim, flips=1)
    with caplog.at_level(logging.WARNING, logger="node.ipfs.fetch"):
        result = fetch_model(publisher.manifest_cid, store, tmp_path / "cache", span=(10, 11),
                             peers=publisher.addrs)
    assert "rejected block_010.safetensors: its CID is Qm" in caplog.text
    assert "block_010.safetensors" in result.fetched
    Manifest.load(result.model_dir).verify(result.model_dir, result.fetched)


def test_bytes_that_never_match_are_an_integrity_error(
    publisher: Publisher, make_store: MakeStore, tmp_path: Path, smollm2_dir: Path
) -> None:
    from node.ipfs import IpfsIntegrityError

    victim = Manifest.load(smollm2_dir).files["block_010.safetensors"].cid
    store = FlippingStore(make_store("b"), victim, flips=10)
    cache = tmp_path / "cache"
    with pytest.raises(IpfsIntegrityError, match=rf"rejected block_010.safetensors \({victim}\) of smollm2-135m-instruct: its CID is"):
        fetch_model(publisher.manifest_cid, store, cache, span=(10, 11), peers=publisher.addrs)
    model_dir = cache / "fetched" / publisher.manifest_cid
    assert (model_dir / "config.json").exists()  # fetched and verified before the failure
    assert not (model_dir / "block_010.safetensors").exists()
    assert not (model_dir / PARTIAL_DIR).exists()


def test_missing_block_times_out_and_leaves_nothing_half_written(
    publisher: Publisher, make_store: MakeStore, tmp_path: Path, smollm2_dir: Path
) -> None:
    import random

    from node.core.cid import cid_of_bytes

    # A manifest whose block 3 names content no peer has.
    manifest = Manifest.load(smollm2_dir)
    files = dict(manifest.files)
    files["block_003.safetensors"] = files["block_003.safetensors"].model_copy(
        update={"cid": cid_of_bytes(random.Random(3).randbytes(1000))}
    )
    bad_dir = tmp_path / "bad"
    manifest.model_copy(update={"files": files}).save(bad_dir)
    seeder = make_store("seeder")  # serves the bad manifest; blocks come from the publisher
    bad_cid = seeder.add(bad_dir / MANIFEST_NAME)

    store = make_store("b")
    cache = tmp_path / "cache"
    with pytest.raises(IpfsTimeoutError, match=r"block_003.safetensors of smollm2-135m-instruct: no data for Qm\w+ within 2 s"):
        fetch_model(bad_cid, store, cache, span=(2, 4), timeout_s=2,
                    peers=[*publisher.addrs, *seeder.addrs()])
    model_dir = cache / "fetched" / bad_cid
    assert block_files_in(model_dir) == ["block_002.safetensors"]  # verified before the failure
    assert not (model_dir / PARTIAL_DIR).exists()
    assert not list((store.data_dir / "ipfs-tmp").iterdir())


def test_unknown_manifest_cid_times_out_cleanly(
    publisher: Publisher, make_store: MakeStore, tmp_path: Path
) -> None:
    from node.core.cid import cid_of_bytes

    missing = cid_of_bytes(b"no peer has this manifest")
    store = make_store("b")
    with pytest.raises(IpfsTimeoutError, match=f"manifest {missing}: no data for {missing} within 1 s from 1 connected peer"):
        fetch_span(missing, 0, 1, store, tmp_path / "cache", timeout_s=1, peers=publisher.addrs)
    model_dir = tmp_path / "cache" / "fetched" / missing
    assert not (model_dir / MANIFEST_NAME).exists()
    assert not (model_dir / PARTIAL_DIR).exists()
