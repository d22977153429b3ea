"""Fetch a model (or just one span of it) by manifest CID, verify it, then seed it.

``fetch_span(manifest_cid, start, end, store, cache_dir)`` is what an inferer calls:
it gets the manifest, then only ``config.json`` and the block files of ``[start, end)``
into ``<cache_dir>/fetched/<manifest_cid>/``, and returns that directory, ready for
``node.engine.Span``. Every file is checked (CID, size, sha256) before it takes its
final name; files in flight live in ``.partial/`` beside them. A file already in the
cache is reused when its sha256 matches, and fetched again when it does not. Fetched
content is pinned, so the node serves it to the next inferer (seeding).

Resuming: blocks that arrived before an interruption stay in the IPFS repo (embedded)
or in the ``.partial`` file (kubo-rpc, continued by byte offset), and finished files
stay in the cache, so a rerun only moves what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from node.core.cid import cid_of_file
from node.core.errors import ConfigError
from node.core.files import ensure_free_space
from node.core.manifest import MANIFEST_NAME, Manifest
from node.ipfs.errors import IpfsIntegrityError, IpfsManifestError, IpfsTimeoutError
from node.ipfs.progress import ByteProgress
from node.ipfs.ratelimit import RateLimiter
from node.ipfs.store import DEFAULT_GET_TIMEOUT_S, IpfsStore
from node.ipfs.verify import cached_problem, content_problem

log = logging.getLogger(__name__)

CIDV0 = re.compile(r"^Qm[1-9A-HJ-NP-Za-km-z]{44}$")
PARTIAL_DIR = ".partial"
SPAN_META_FILES = ("config.json",)  # what a span needs besides its blocks
FETCH_RETRIES = 1  # extra attempts for a file whose bytes do not match its CID


@dataclass
class FetchResult:
    model_dir: Path
    manifest: Manifest
    manifest_cid: str
    fetched: list[str] = field(default_factory=list)  # downloaded in this call
    reused: list[str] = field(default_factory=list)  # already cached and intact
    refetched: list[str] = field(default_factory=list)  # cached but corrupt: fetched again
    bytes_fetched: int = 0
    seconds: float = 0.0


def fetched_model_dir(cache_dir: Path, manifest_cid: str) -> Path:
    return cache_dir / "fetched" / manifest_cid


def span_files(manifest: Manifest, start: int, end: int) -> list[str]:
    """``config.json`` and the block files of ``[start, end)``."""
    return [n for n in SPAN_META_FILES if n in manifest.files] + manifest.block_files(start, end)


def fetch_span(
    manifest_cid: str, start: int, end: int, store: IpfsStore, cache_dir: Path, **options: object
) -> Path:
    """Fetch what serving blocks ``[start, end)`` needs; returns the model directory.
    ``options`` are those of ``fetch_model`` (peers, timeout_s, max_mb_per_s, progress)."""
    return fetch_model(manifest_cid, store, cache_dir, span=(start, end), **options).model_dir  # type: ignore[arg-type]


def fetch_model(
    manifest_cid: str,
    store: IpfsStore,
    cache_dir: Path,
    *,
    span: tuple[int, int] | None = None,
    client_files: bool = False,
    peers: Sequence[str] = (),
    timeout_s: float = DEFAULT_GET_TIMEOUT_S,
    max_mb_per_s: float | None = None,
    progress: bool = False,
    seed: bool = True,
) -> FetchResult:
    """Fetch, verify and (``seed``) pin model files by manifest CID.

    Which files: ``span`` → ``config.json`` + its blocks; ``client_files`` → config,
    tokenizer, embeddings, head; both may be given; neither → every file.
    ``peers``: multiaddrs (``.../p2p/<id>``) dialed first. ``timeout_s``: give up on a
    file when no data arrived for this long (``IpfsTimeoutError``). ``max_mb_per_s``:
    download cap. ``progress``: a progress bar on stderr.
    """
    if not CIDV0.fullmatch(manifest_cid):
        raise ConfigError(f"{manifest_cid!r} is not a CIDv0 (Qm…, 46 characters) manifest CID")
    started = time.perf_counter()
    _dial(store, peers)
    model_dir = fetched_model_dir(cache_dir, manifest_cid)
    limiter = RateLimiter(max_mb_per_s) if max_mb_per_s else None
    with _locked(model_dir), _partial_dir_cleaned(model_dir):
        manifest = _get_manifest(manifest_cid, store, model_dir, timeout_s)
        result = FetchResult(model_dir, manifest, manifest_cid)
        names = _select(manifest, span, client_files)
        todo = []
        for name in names:
            problem = cached_problem(model_dir / name, manifest.files[name])
            if problem is None:
                result.reused.append(name)
            elif problem == "missing":
                todo.append(name)
            else:
                log.warning("cached %s is corrupt (%s): fetching it again", name, problem)
                (model_dir / name).unlink()
                result.refetched.append(name)
                todo.append(name)
        need = sum(manifest.files[n].size for n in todo)
        ensure_free_space(model_dir, need, f"fetching {len(todo)} files of {manifest.model_id}")
        with ByteProgress(need, f"{manifest.model_id} {_label(span)}", enabled=progress) as bar:
            for name in todo:
                _fetch_file(name, manifest, store, model_dir, timeout_s, limiter, bar)
                result.fetched.append(name)
                result.bytes_fetched += manifest.files[name].size
        if seed:
            _seed(store, model_dir, manifest_cid, manifest, names, result.fetched)
    result.seconds = time.perf_counter() - started
    log.info(
        "%s %s: %d fetched (%.0f MB), %d reused, %d re-fetched after corruption, in %.1f s",
        manifest.model_id, _label(span), len(result.fetched), result.bytes_fetched / 1e6,
        len(result.reused), len(result.refetched), result.seconds,
    )
    return result


def fetch_manifest(
    manifest_cid: str,
    store: IpfsStore,
    cache_dir: Path,
    *,
    peers: Sequence[str] = (),
    timeout_s: float = DEFAULT_GET_TIMEOUT_S,
) -> Manifest:
    """Only the manifest (a few KB): what a model is before deciding what to fetch of it."""
    if not CIDV0.fullmatch(manifest_cid):
        raise ConfigError(f"{manifest_cid!r} is not a CIDv0 (Qm…, 46 characters) manifest CID")
    _dial(store, peers)
    model_dir = fetched_model_dir(cache_dir, manifest_cid)
    with _locked(model_dir), _partial_dir_cleaned(model_dir):
        return _get_manifest(manifest_cid, store, model_dir, timeout_s)


def _label(span: tuple[int, int] | None) -> str:
    return f"blocks [{span[0]}, {span[1]})" if span else "files"


def _select(manifest: Manifest, span: tuple[int, int] | None, client_files: bool) -> list[str]:
    if span is None and not client_files:
        return list(manifest.files)
    names: list[str] = []
    if span is not None:
        try:
            names += span_files(manifest, *span)
        except ValueError as exc:
            raise ConfigError(f"{exc} of {manifest.model_id}") from None
    if client_files:
        names += [n for n in manifest.client_files() if n not in names]
    return names


def _dial(store: IpfsStore, peers: Sequence[str]) -> None:
    for addr in peers:
        if not store.connect(addr):
            log.warning("could not dial IPFS peer %s", addr)


@contextlib.contextmanager
def _locked(model_dir: Path) -> Iterator[None]:
    """One fetcher per model dir at a time (two inferers may share a cache dir)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process fetching into %s", model_dir)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def _partial_dir_cleaned(model_dir: Path) -> Iterator[None]:
    """Remove ``.partial`` when nothing is left in it (a kept partial file resumes later)."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            (model_dir / PARTIAL_DIR).rmdir()  # only succeeds when empty


def _get_manifest(cid: str, store: IpfsStore, model_dir: Path, timeout_s: float) -> Manifest:
    path = model_dir / MANIFEST_NAME
    if not (path.is_file() and cid_of_file(path) == cid):
        part = model_dir / PARTIAL_DIR / MANIFEST_NAME
        for attempt in range(FETCH_RETRIES + 1):
            try:
                store.get(cid, part, timeout_s=timeout_s)
            except IpfsTimeoutError as exc:
                part.unlink(missing_ok=True)
                raise IpfsTimeoutError(f"manifest {cid}: {exc}") from None
            if (got := cid_of_file(part)) == cid:
                break
            part.unlink()
            if attempt == FETCH_RETRIES:
                raise IpfsIntegrityError(f"rejected manifest {cid}: the bytes received have CID {got}")
            log.warning("rejected manifest %s: its CID is %s; fetching it again", cid, got)
        os.replace(part, path)
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError) as exc:
        path.unlink()
        raise IpfsManifestError(
            f"{cid} is not a Heliomesh model manifest ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}); check the CID you were given"
        ) from None


def _fetch_file(
    name: str,
    manifest: Manifest,
    store: IpfsStore,
    model_dir: Path,
    timeout_s: float,
    limiter: RateLimiter | None,
    bar: ByteProgress,
) -> None:
    entry = manifest.files[name]
    part = model_dir / PARTIAL_DIR / name
    for attempt in range(FETCH_RETRIES + 1):
        with bar.file(entry.size) as on_bytes:
            try:
                store.get(entry.cid, part, timeout_s=timeout_s, on_bytes=on_bytes, limiter=limiter)
            except IpfsTimeoutError as exc:
                part.unlink(missing_ok=True)  # nothing half-written stays behind
                raise IpfsTimeoutError(f"{name} of {manifest.model_id}: {exc}") from None
        found = content_problem(part, entry)
        if found is None:
            os.replace(part, model_dir / name)
            return
        problem, retry = found
        part.unlink()
        bar.rewind(entry.size)
        if not retry or attempt == FETCH_RETRIES:
            raise IpfsIntegrityError(
                f"rejected {name} ({entry.cid}) of {manifest.model_id}: {problem}"
                + ("" if retry else "; the manifest is inconsistent: ask its publisher to "
                   "re-convert and republish")
            )
        log.warning("rejected %s: %s; fetching it again", name, problem)


def _seed(
    store: IpfsStore,
    model_dir: Path,
    manifest_cid: str,
    manifest: Manifest,
    names: list[str],
    fetched: list[str],
) -> None:
    """Pin what we hold so the node keeps it and serves it to other inferers."""
    pinned = store.pinned()
    wanted = {manifest_cid: model_dir / MANIFEST_NAME}
    wanted |= {manifest.files[n].cid: model_dir / n for n in names}
    just_fetched = {manifest.files[n].cid for n in fetched}
    for cid, path in wanted.items():
        if cid in pinned:
            continue
        if cid in just_fetched:
            store.pin(cid)  # its blocks are local: instant
            continue
        # The manifest, or a file reused from the cache that this node does not hold
        # (e.g. a fresh repo): import it again.
        if (added := store.add(path)) != cid:
            raise IpfsIntegrityError(f"re-importing {path} gave CID {added}, expected {cid}")
