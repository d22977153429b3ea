"""Errors of the IPFS layer. Each message says what failed and what to do about it."""

from __future__ import annotations

from node.core.errors import HeliomeshError


class IpfsError(HeliomeshError):
    """Base of every IPFS-layer error."""


class IpfsBackendError(IpfsError):
    """The IPFS backend (embedded Kubo or a Kubo daemon) is missing, locked or failed."""


class IpfsTimeoutError(IpfsError):
    """Content could not be obtained in time: no reachable peer has it, or none answered."""


class IpfsIntegrityError(IpfsError):
    """Bytes do not match their CID or sha256, or a manifest disagrees with its files."""


class IpfsManifestError(IpfsError):
    """The content behind a manifest CID is not a valid Heliomesh manifest."""
