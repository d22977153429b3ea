"""IPFS CIDv0 of a file, byte-for-byte what Kubo's default ``ipfs add`` prints.

The file is cut into fixed 262144-byte chunks. Each chunk becomes a dag-pb leaf
block whose Data is a UnixFS message ``{Type: File, Data: chunk, filesize: len}``
(no raw leaves). Leaves are grouped bottom-up, at most 174 children per node,
until one root remains (go-unixfs "balanced" layout). An intermediate block has
no UnixFS Data bytes, only ``{Type: File, filesize: total, blocksizes: [...]}``,
and one link per child ``{Hash: child multihash, Name: "", Tsize: child block
size + its own links' Tsize}``; Kubo does encode the empty Name. dag-pb writes
Links (field 2) before Data (field 1). The CID is base58btc of the sha2-256
multihash (``0x12 0x20`` + digest) of the root block: a ``Qm...`` string.

A one-chunk file is its leaf alone; an empty file is a leaf with no Data bytes.
Hashing streams the file and keeps at most 174 pending links per tree level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final, NamedTuple

import base58

CHUNK_SIZE: Final = 262144
MAX_LINKS: Final = 174

CID_PARAMS: Final[dict[str, str | int | bool]] = {
    "cid_version": 0,
    "chunker": f"size-{CHUNK_SIZE}",
    "raw_leaves": False,
    "layout": "balanced",
    "max_links": MAX_LINKS,
}
"""The ``ipfs add`` settings these CIDs match (Kubo defaults), for a manifest to record.
Treat as read-only; copy with ``dict(CID_PARAMS)``."""

_UNIXFS_FILE: Final = 2
_SHA2_256_PREFIX: Final = b"\x12\x20"  # multihash code sha2-256, digest length 32


class _Link(NamedTuple):
    """What a parent needs to know about one child block."""

    multihash: bytes
    filesize: int  # file bytes under the child (UnixFS blocksizes entry)
    tsize: int  # child block size plus the Tsize of all its links


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _field_bytes(field: int, value: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(value)) + value


def _block(unixfs: bytes, links: Iterable[_Link] = ()) -> bytes:
    """Serialise a dag-pb PBNode: every link (field 2), then Data (field 1)."""
    parts = [
        _field_bytes(
            2,
            _field_bytes(1, link.multihash) + _field_bytes(2, b"") + _field_varint(3, link.tsize),
        )
        for link in links
    ]
    parts.append(_field_bytes(1, unixfs))
    return b"".join(parts)


def _link_to(block: bytes, filesize: int, links_tsize: int = 0) -> _Link:
    multihash = _SHA2_256_PREFIX + hashlib.sha256(block).digest()
    return _Link(multihash, filesize, len(block) + links_tsize)


def _leaf(chunk: bytes) -> _Link:
    unixfs = _field_varint(1, _UNIXFS_FILE)
    if chunk:
        unixfs += _field_bytes(2, chunk)
    unixfs += _field_varint(3, len(chunk))
    return _link_to(_block(unixfs), len(chunk))


def _parent(children: list[_Link]) -> _Link:
    filesize = sum(child.filesize for child in children)
    unixfs = _field_varint(1, _UNIXFS_FILE) + _field_varint(3, filesize)
    unixfs += b"".join(_field_varint(4, child.filesize) for child in children)
    block = _block(unixfs, children)
    return _link_to(block, filesize, sum(child.tsize for child in children))


def _root(chunks: Iterable[bytes]) -> _Link:
    # levels[i] holds the not-yet-grouped nodes of height i (0 = leaves). A full
    # group is folded into its parent at once, so memory stays O(depth * MAX_LINKS).
    levels: list[list[_Link]] = [[]]
    for chunk in chunks:
        levels[0].append(_leaf(chunk))
        height = 0
        while len(levels[height]) == MAX_LINKS:
            if height + 1 == len(levels):
                levels.append([])
            levels[height + 1].append(_parent(levels[height]))
            levels[height] = []
            height += 1
    if not any(levels):
        return _leaf(b"")
    # Fold each remainder upward until a single node is left on the top level.
    height = 0
    while not (height == len(levels) - 1 and len(levels[height]) == 1):
        if height == len(levels) - 1:
            levels.append([])
        if levels[height]:
            levels[height + 1].append(_parent(levels[height]))
        height += 1
    return levels[height][0]


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Yield CHUNK_SIZE-byte chunks (the last may be shorter), like Go's io.ReadFull."""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        while chunk and len(chunk) < CHUNK_SIZE:  # short read that is not EOF
            more = stream.read(CHUNK_SIZE - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            return
        yield chunk


def _encode(root: _Link) -> str:
    encoded: bytes = base58.b58encode(root.multihash)
    return encoded.decode("ascii")


def cid_of_file(path: Path) -> str:
    """The CIDv0 Kubo's default ``ipfs add`` gives ``path``, read in 256 KiB chunks."""
    with open(path, "rb") as stream:
        return _encode(_root(_chunks(stream)))


def cid_of_bytes(data: bytes) -> str:
    """The CIDv0 Kubo's default ``ipfs add`` gives a file holding ``data``."""
    view = memoryview(data)
    chunks = (bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(data), CHUNK_SIZE))
    return _encode(_root(chunks))
