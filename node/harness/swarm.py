"""``LocalSwarm``: a real swarm of processes on loopback (a bootstrap peer and inferers),
for the demo, the tests and the benchmark.

Every process runs ``python -m node.cli.main ...`` in its own process group (so killing
it kills its ``p2pd`` child too), with ``HELIO_PARENT_PID`` set: it exits by itself if
this process dies without cleaning up. ``close()`` (or leaving the ``with`` block) kills
every group; no process outlives the swarm.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from node.core.errors import HeliomeshError
from node.core.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

BOOTSTRAP_MARKER = "HELIO_BOOTSTRAP"
READY_MARKER = "HELIO_READY"
DEFAULT_START_TIMEOUT_S = 120.0  # model load + throughput probe on a busy 2-core machine
TERM_GRACE_S = 10.0  # SIGTERM first (drain + leave the DHT), then SIGKILL


class LocalSwarmError(HeliomeshError):
    """A local swarm process did not start; the message names its log file."""


@dataclass
class SwarmProcess:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    peer_id: str = ""
    blocks: tuple[int, int] | None = None
    maddrs: list[str] = field(default_factory=list)
    netns: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # this process's own, over the swarm's

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None


class LocalSwarm:
    def __init__(self, model_dir: Path, log_dir: Path, *, threads: int = 1, refresh_s: float = 5.0,
                 rpc_url: str | None = None, network: str = "local",
                 extra_env: dict[str, str] | None = None) -> None:
        self.model_dir = model_dir
        self.log_dir = log_dir
        self.threads = threads
        self.refresh_s = refresh_s
        self.rpc_url = rpc_url
        self.network = network
        self.extra_env = extra_env or {}
        self.bootstrap: SwarmProcess | None = None  # the first one
        self.bootstraps: list[SwarmProcess] = []
        self.inferers: list[SwarmProcess] = []
        self._all: list[SwarmProcess] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    # --- starting ------------------------------------------------------------------------
    @property
    def initial_peers(self) -> list[str]:
        """Every bootstrap's multiaddrs (those started and not down right now)."""
        maddrs = [m for proc in self.bootstraps if proc.alive for m in proc.maddrs]
        if not maddrs:
            raise LocalSwarmError("start_bootstrap() first")
        return maddrs

    def start_bootstrap(self, timeout: float = 60.0, also_listen: list[str] | None = None, *,
                        name: str | None = None, port: int | None = None,
                        identity: Path | None = None,
                        initial_peers: list[str] | None = None, wait: bool = True) -> list[str]:
        """Start a bootstrap peer (call again for a second one: ``initial_peers`` joins it
        to the first). ``port`` and ``identity`` (a key file, created if missing) keep its
        multiaddr across ``restart()`` — what a second bootstrap or chaos tests need.
        ``wait=False``: return at once (``wait_ready(swarm.bootstraps)``; the returned list
        fills when it is up)."""
        name = name or ("bootstrap" if not self.bootstraps else f"bootstrap{len(self.bootstraps)}")
        args = ["bootstrap"]
        for host in also_listen or []:
            args += ["--also-listen", host]
        if port is not None:
            args += ["--port", str(port)]
        if identity is not None:
            args += ["--identity", str(identity)]
        for maddr in initial_peers or []:
            args += ["--initial-peers", maddr]
        proc = SwarmProcess(name, args, self.log_dir / f"{name}.log")
        self._spawn(proc)
        self.bootstraps.append(proc)
        if wait:
            self._wait(proc, timeout)
        if self.bootstrap is None:
            self.bootstrap = proc
        return proc.maddrs

    def start_inferer(self, blocks: tuple[int, int] | None, *, name: str | None = None,
                      dev_key: int | None = None, extra_args: list[str] | None = None,
                      wait: bool = True, timeout: float = DEFAULT_START_TIMEOUT_S,
                      netns: str | None = None,
                      initial_peers: list[str] | None = None,
                      extra_env: dict[str, str] | None = None) -> SwarmProcess:
        """``netns``: run it inside that network namespace (``ip netns exec``; tests only).
        ``initial_peers``: join through these instead of every bootstrap. ``extra_env``:
        this inferer's own variables (e.g. a cache dir of its own)."""
        name = name or f"inferer{len(self.inferers)}"
        args = ["node", "serve", "--model-dir", str(self.model_dir),
                "--blocks", f"{blocks[0]}:{blocks[1]}" if blocks else "auto",
                "--threads", str(self.threads), "--refresh", str(self.refresh_s)]
        for maddr in initial_peers if initial_peers is not None else self.initial_peers:
            args += ["--initial-peers", maddr]
        if dev_key is not None:
            args += ["--dev-key", str(dev_key)]
        if self.rpc_url:
            args += ["--rpc-url", self.rpc_url, "--network", self.network]
        args += extra_args or []
        proc = SwarmProcess(name, args, self.log_dir / f"{name}.log", netns=netns,
                            env=dict(extra_env or {}))
        self._spawn(proc)
        self.inferers.append(proc)
        if wait:
            self._wait(proc, timeout)
        return proc

    def wait_ready(self, procs: list[SwarmProcess] | None = None,
                   timeout: float = DEFAULT_START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        for proc in procs or self.inferers:
            self._wait(proc, max(deadline - time.monotonic(), 0.1))

    def restart(self, proc: SwarmProcess, wait: bool = True,
                timeout: float = DEFAULT_START_TIMEOUT_S) -> SwarmProcess:
        """Start ``proc`` again (a new process, a new peer id), same arguments."""
        self.kill(proc)
        proc.lines.clear()
        proc.ready.clear()
        proc.peer_id, proc.maddrs = "", []
        self._spawn(proc)
        if wait:
            self._wait(proc, timeout)
        return proc

    def _spawn(self, proc: SwarmProcess) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               "OMP_NUM_THREADS": str(self.threads), "HELIO_PARENT_PID": str(os.getpid()),
               "COLUMNS": "160",  # rich wraps log lines at the terminal width
               **self.extra_env, **proc.env}
        env.pop("HELIO_INITIAL_PEERS", None)
        log_file = open(proc.log_path, "a")  # noqa: SIM115 - the child owns it; closed below
        log_file.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(proc.args)}\n")
        log_file.flush()
        try:
            prefix = ["ip", "netns", "exec", proc.netns] if proc.netns else []
            proc.popen = subprocess.Popen(
                [*prefix, sys.executable, "-m", "node.cli.main", *proc.args],
                stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL, text=True,
                cwd=PROJECT_ROOT, env=env, start_new_session=True,
            )
        finally:
            log_file.close()
        self._all.append(proc)
        threading.Thread(target=self._read, args=(proc, proc.popen), daemon=True,
                         name=f"read-{proc.name}").start()

    def _read(self, proc: SwarmProcess, popen: subprocess.Popen[str]) -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            line = line.rstrip("\n")
            proc.lines.append(line)
            if line.startswith(BOOTSTRAP_MARKER):
                proc.maddrs.append(line.split(maxsplit=1)[1])
                proc.ready.set()
            elif line.startswith(READY_MARKER):
                fields = dict(item.split("=", 1) for item in line.split()[1:])
                proc.peer_id = fields.get("peer_id", "")
                start, end = fields.get("blocks", "0:0").split(":")
                proc.blocks = (int(start), int(end))
                proc.ready.set()

    def _wait(self, proc: SwarmProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not proc.ready.wait(0.2):
            if not proc.alive or time.monotonic() > deadline:
                why = "exited" if not proc.alive else f"not ready after {timeout:.0f} s"
                tail = _tail(proc.log_path)
                raise LocalSwarmError(f"{proc.name} {why}; log {proc.log_path}:\n{tail}")

    # --- stopping ------------------------------------------------------------------------
    def kill(self, proc: SwarmProcess, sig: int = signal.SIGKILL) -> None:
        """SIGKILL ``proc``'s whole process group (it and its p2pd), or send another signal
        to ``proc`` alone (the group goes after a grace period); reap it."""
        if proc.popen is None:
            return
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if sig == signal.SIGKILL:
                    os.killpg(proc.popen.pid, sig)
                else:  # the process alone: it drains and leaves through its own p2pd
                    os.kill(proc.popen.pid, sig)
            try:
                proc.popen.wait(TERM_GRACE_S if sig != signal.SIGKILL else 10)
            except subprocess.TimeoutExpired:
                _killpg(proc.popen.pid)
                proc.popen.wait(10)
        _killpg(proc.popen.pid)  # anything left in the group (p2pd after a clean exit)

    def stop(self, proc: SwarmProcess) -> None:
        """Graceful: SIGTERM (drain, announce offline), SIGKILL after a grace period."""
        self.kill(proc, signal.SIGTERM)

    def close(self) -> None:
        groups = [p.popen.pid for p in self._all if p.popen is not None]
        for proc in reversed(self._all):
            self.kill(proc, signal.SIGKILL)
        self._all.clear()
        deadline = time.monotonic() + 10  # orphaned p2pd children are reaped by init
        while groups and time.monotonic() < deadline:
            groups = [g for g in groups if _group_alive(g)]
            if groups:
                time.sleep(0.1)
        if groups:
            log.warning("process groups %s are still there after SIGKILL", groups)

    def __enter__(self) -> LocalSwarm:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def pids(self) -> list[int]:
        return [p.popen.pid for p in self._all if p.popen is not None]


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
