"""``IpfsStore``: what Heliomesh needs from an IPFS node, whichever backend runs it.

Two backends implement it: ``EmbeddedStore`` (a Kubo node inside this process, the
default) and ``KuboRpcStore`` (a user's own Kubo daemon over its HTTP RPC API).
``open_store`` picks one by name. Every CID is CIDv0 with the parameters pinned in
``node.core.cid.CID_PARAMS``, so a file's CID is known before any node sees it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal

from node.ipfs.ratelimit import RateLimiter

Backend = Literal["embedded", "kubo-rpc"]
BACKENDS: tuple[Backend, ...] = ("embedded", "kubo-rpc")

ProgressFn = Callable[[int], None]
"""Called with the number of bytes that just arrived (for a progress bar)."""

DEFAULT_GET_TIMEOUT_S = 30.0  # give up on a CID when no byte of it arrived for this long


class IpfsStore(abc.ABC):
    """An IPFS node that can add, pin, fetch and serve (seed) content by CID."""

    backend: ClassVar[Backend]

    @property
    @abc.abstractmethod
    def peer_id(self) -> str:
        """The node's libp2p peer id."""

    @abc.abstractmethod
    def addrs(self) -> list[str]:
        """Multiaddrs other peers can dial, each ending in ``/p2p/<peer id>``."""

    @abc.abstractmethod
    def connect(self, multiaddr: str) -> bool:
        """Dial a peer (``.../p2p/<peer id>``); False if it could not be reached."""

    @abc.abstractmethod
    def connected_peers(self) -> list[str]:
        """Peer ids this node is connected to."""

    @abc.abstractmethod
    def add(self, path: Path) -> str:
        """Import a file (CIDv0, 256 KiB chunks, balanced) and pin it; returns its CID."""

    @abc.abstractmethod
    def pin(self, cid: str) -> None:
        """Pin content already in (or fetchable by) the node, so it is kept and served."""

    @abc.abstractmethod
    def pinned(self) -> set[str]:
        """CIDs pinned recursively."""

    @abc.abstractmethod
    def get(
        self,
        cid: str,
        dest: Path,
        *,
        timeout_s: float = DEFAULT_GET_TIMEOUT_S,
        on_bytes: ProgressFn | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        """Write the file ``cid`` to ``dest``.

        Raises ``IpfsTimeoutError`` when no data arrived for ``timeout_s``. ``dest`` may
        hold an earlier partial attempt: a backend that can resume continues from it.
        On failure ``dest`` may hold a partial file; the caller keeps or removes it.
        The bytes are NOT verified here; callers check CID and sha256.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stop serving; idempotent."""

    def __enter__(self) -> IpfsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

