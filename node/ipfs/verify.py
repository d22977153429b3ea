"""Checks on fetched bytes: size, CID and sha256 against a manifest entry."""

from __future__ import annotations

from pathlib import Path

from node.core.cid import cid_of_file
from node.core.files import sha256_file
from node.core.manifest import FileEntry


def cached_problem(path: Path, entry: FileEntry) -> str | None:
    """Why a file already in the cache cannot be used (size or sha256), or None."""
    if not path.is_file():
        return "missing"
    if (size := path.stat().st_size) != entry.size:
        return f"{size} bytes, expected {entry.size}"
    if sha256_file(path) != entry.sha256:
        return "sha256 mismatch"
    return None


def content_problem(path: Path, entry: FileEntry) -> tuple[str, bool] | None:
    """Why freshly fetched bytes are wrong, or None; the flag says whether fetching
    again can help (the bytes do not match the CID asked for) or not (they do, so the
    manifest itself disagrees with the content it names)."""
    cid = cid_of_file(path)
    if cid != entry.cid:
        return f"its CID is {cid}, not {entry.cid}", True
    if (size := path.stat().st_size) != entry.size:
        return f"the CID holds {size} bytes but the manifest says {entry.size}", False
    if sha256_file(path) != entry.sha256:
        return "the CID's bytes do not match the manifest's sha256", False
    return None
