"""``helio model publish`` and ``helio model fetch``: model weights over IPFS.

``publish`` adds a converted model to an IPFS node (embedded by default, its repo in
``<data-dir>/ipfs``), pins it and prints the manifest CID on stdout; ``--serve`` keeps
the node up to seed it. ``fetch`` takes a manifest CID and gets a span's files (or the
client's, or all) from the peers it dials, verified, into ``<cache-dir>/fetched/<cid>``.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from node.core.errors import ConfigError
from node.core.settings import Settings
from node.ipfs import IpfsStore, fetch_model, open_store, publish_model
from node.models.convert import model_dir, normalize_dtype

err = Console(stderr=True)

DataDir = typer.Option(None, "--data-dir", help="this node's own state: IPFS repo in <data-dir>/ipfs (default <cache-dir>/node)")
CacheDirOpt = typer.Option(None, "--cache-dir", help="cache root (default: HELIO_CACHE_DIR or ~/.cache/heliomesh)")
BackendOpt = typer.Option("embedded", "--ipfs-backend", help="embedded (in-process Kubo) or kubo-rpc (your daemon)")
ApiOpt = typer.Option(None, "--api", help="Kubo RPC API for kubo-rpc, e.g. http://127.0.0.1:5001")
ListenOpt = typer.Option(None, "--listen", help="swarm multiaddr of the embedded node (repeatable; default /ip4/127.0.0.1/tcp/0)")
AnnounceOpt = typer.Option(None, "--announce", help="public swarm multiaddr to announce when it differs from --listen (a port forward; repeatable)")
ServeOpt = typer.Option(False, "--serve", help="keep the node running to seed the content until Ctrl-C / SIGTERM")
JsonOpt = typer.Option(False, "--json", help="print one JSON object (CID, peer id, addrs, numbers) on stdout")
ModelDirOpt = typer.Option(None, "--model-dir", help="publish this converted model directory instead")
PeerOpt = typer.Option(None, "--peer", help="multiaddr …/p2p/<id> of a peer that has the model (repeatable)")


def _open(backend: str, data_dir: Path | None, cache_dir: Path, api: str | None, listen: list[str] | None,
          announce: list[str] | None = None, peering: list[str] | None = None) -> IpfsStore:
    return open_store(backend, data_dir=data_dir or cache_dir / "node", api=api, listen=listen or None,
                      announce=announce or (), peering=peering or ())


def _serve(store: IpfsStore) -> None:
    """Block until SIGINT/SIGTERM while the node seeds what it pinned."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    err.print(f"seeding as {store.peer_id} on {' '.join(store.addrs())}; Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        err.print("stopped seeding")


def _emit(obj: dict[str, object]) -> None:
    print(json.dumps(obj), flush=True)


def publish(
    model_id: str = typer.Argument("smollm2-135m-instruct", help="a converted model (see `helio model list`)"),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32, bf16 or fp16"),
    model_path: Path | None = ModelDirOpt,
    cache_dir: Path | None = CacheDirOpt,
    data_dir: Path | None = DataDir,
    backend: str = BackendOpt,
    api: str | None = ApiOpt,
    listen: list[str] | None = ListenOpt,
    announce: list[str] | None = AnnounceOpt,
    serve: bool = ServeOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add a converted model's files to IPFS, pin them, print the manifest CID.

    Each CID IPFS computes must equal the manifest's; --serve keeps seeding."""
    cache = cache_dir or Settings().cache_dir
    directory = model_path or model_dir(cache, model_id, normalize_dtype(dtype))
    store = _open(backend, data_dir, cache, api, listen, announce)
    try:
        result = publish_model(directory, store)
        err.print(
            f"[green]published[/] {result.model_id}: {result.files} files, "
            f"{result.total_bytes / 1e6:.0f} MB in {result.seconds:.1f} s via {store.backend} IPFS"
        )
        if as_json:
            _emit({"manifest_cid": result.manifest_cid, "model_id": result.model_id,
                   "peer_id": store.peer_id, "addrs": store.addrs(), "files": result.files,
                   "bytes": result.total_bytes, "publish_s": round(result.seconds, 3)})
        else:
            print(result.manifest_cid, flush=True)
        if serve:
            _serve(store)
    finally:
        store.close()


def _parse_span(span: str | None) -> tuple[int, int] | None:
    if span is None:
        return None
    try:
        start, end = (int(x) for x in span.split(":"))
    except ValueError:
        raise ConfigError(f"--span {span!r}: use START:END, e.g. 0:10 for blocks 0..9") from None
    return start, end


def fetch(
    manifest_cid: str = typer.Argument(..., help="the model's manifest CID (Qm…)"),
    span: str | None = typer.Option(None, "--span", help="blocks START:END to fetch (end exclusive)"),
    client: bool = typer.Option(False, "--client", help="also fetch the client files (tokenizer, embeddings, head)"),
    peers: list[str] | None = PeerOpt,
    timeout_s: float = typer.Option(30.0, "--timeout", help="give up on a file after this many seconds without data"),
    max_mb_s: float | None = typer.Option(None, "--max-mb-s", help="download cap in MB/s (per chunk with kubo-rpc, on average with embedded)"),
    cache_dir: Path | None = CacheDirOpt,
    data_dir: Path | None = DataDir,
    backend: str = BackendOpt,
    api: str | None = ApiOpt,
    listen: list[str] | None = ListenOpt,
    announce: list[str] | None = AnnounceOpt,
    serve: bool = ServeOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Fetch a model's files by manifest CID, verify them, pin them, print the directory.

    --span START:END fetches config.json and those blocks only; CID and sha256 of
    every file are checked before use; a rerun resumes; --serve keeps seeding."""
    cache = cache_dir or Settings().cache_dir
    # the peers stay connected (Kubo Peering) while --serve seeds onward
    store = _open(backend, data_dir, cache, api, listen, announce, peers)
    try:
        result = fetch_model(
            manifest_cid, store, cache, span=_parse_span(span), client_files=client,
            peers=peers or (), timeout_s=timeout_s, max_mb_per_s=max_mb_s,
            progress=sys.stderr.isatty() and not as_json,
        )
        err.print(
            f"[green]fetched[/] {len(result.fetched)} files ({result.bytes_fetched / 1e6:.0f} MB), "
            f"reused {len(result.reused)}, re-fetched {len(result.refetched)} in {result.seconds:.1f} s"
        )
        if as_json:
            _emit({"model_dir": str(result.model_dir), "peer_id": store.peer_id,
                   "addrs": store.addrs(), "fetched": result.fetched, "reused": result.reused,
                   "refetched": result.refetched, "bytes_fetched": result.bytes_fetched,
                   "fetch_s": round(result.seconds, 3)})
        else:
            print(result.model_dir, flush=True)
        if serve:
            _serve(store)
    finally:
        store.close()
