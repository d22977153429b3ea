"""``helio model publish``: add a converted model's files to IPFS and pin them.

Every CID Kubo returns must equal the one in the manifest (both are CIDv0 with the
same chunking); the manifest itself goes last, and its CID names the model version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.core.cid import cid_of_file
from node.core.manifest import MANIFEST_NAME, Manifest
from node.ipfs.errors import IpfsIntegrityError
from node.ipfs.store import IpfsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishResult:
    manifest_cid: str
    model_id: str
    files: int  # files added, the manifest included
    total_bytes: int
    seconds: float


def manifest_cid(model_dir: Path) -> str:
    """The CID a model directory publishes as (computed locally, no IPFS needed)."""
    return cid_of_file(model_dir / MANIFEST_NAME)


def publish_model(
    model_dir: Path,
    store: IpfsStore,
    *,
    verify: bool = True,
    on_file: Callable[[str, int], None] | None = None,
) -> PublishResult:
    """Add every file of ``model_dir`` and its manifest to ``store`` (pinned).

    ``verify`` first checks each file's size and sha256 against the manifest (raises
    ``ModelCacheError`` naming the bad files). ``on_file(name, size)`` is called after
    each file. Raises ``IpfsIntegrityError`` if the node computes a different CID.
    """
    start = time.perf_counter()
    manifest = Manifest.load(model_dir)
    if verify:
        manifest.verify(model_dir)
    total = 0
    for name, entry in manifest.files.items():
        cid = store.add(model_dir / name)
        if cid != entry.cid:
            raise IpfsIntegrityError(
                f"{store.backend} IPFS gave {name} the CID {cid} but the manifest says "
                f"{entry.cid}: the node imports with other settings than CIDv0 / 256 KiB "
                "chunks / balanced layout, or the file changed after conversion "
                f"(`helio model convert {manifest.model_id} --force`)"
            )
        total += entry.size
        if on_file is not None:
            on_file(name, entry.size)
    path = model_dir / MANIFEST_NAME
    expected = cid_of_file(path)
    cid = store.add(path)
    if cid != expected:
        raise IpfsIntegrityError(
            f"{store.backend} IPFS gave {path} the CID {cid}, expected {expected}: "
            "the node does not import with CIDv0 defaults"
        )
    if on_file is not None:
        on_file(MANIFEST_NAME, path.stat().st_size)
    seconds = time.perf_counter() - start
    log.info("published %s (%d files, %.0f MB) as %s", manifest.model_id,
             len(manifest.files) + 1, total / 1e6, cid)
    return PublishResult(cid, manifest.model_id, len(manifest.files) + 1,
                         total + path.stat().st_size, seconds)
