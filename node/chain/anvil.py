"""A local anvil chain as a child process, bound to loopback only."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from node.core.errors import ChainError, ToolchainError
from node.core.paths import NODE_MODULES_BIN

HOST = "127.0.0.1"  # never bind anvil beyond loopback: its dev keys are public
DEFAULT_ANVIL = NODE_MODULES_BIN / "anvil"
_POLL_INTERVAL_S = 0.02  # anvil starts in ~0.1 s; poll fast so tests stay quick
_PROBE_TIMEOUT_S = 0.25  # one eth_chainId probe; anvil answers in ms, a timeout just retries
_STDERR_TAIL_CHARS = 500


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def rpc_chain_id(rpc_url: str, timeout: float = _PROBE_TIMEOUT_S) -> int:
    """Ask ``rpc_url`` for ``eth_chainId`` with plain HTTP (no web3 needed to probe)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(json.load(response)["result"], 16)


class Anvil:
    """``with Anvil() as chain: ...`` runs anvil on a free loopback port until the block ends.

    ``port=None`` lets the OS pick one; ``chain_id=None`` keeps anvil's default (31337).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int | None = None,
        binary: Path = DEFAULT_ANVIL,
        startup_timeout: float = 10.0,  # seconds to wait for the first eth_chainId answer
        stop_timeout: float = 5.0,  # seconds between SIGTERM and SIGKILL
    ) -> None:
        self._port = port
        self._requested_chain_id = chain_id
        self._binary = binary
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._chain_id: int | None = None
        self._pid: int | None = None  # kept after stop() so callers can check it is gone

    @property
    def rpc_url(self) -> str:
        if self._port is None:
            raise ChainError("anvil is not started; call start() first")
        return f"http://{HOST}:{self._port}"

    @property
    def pid(self) -> int:
        if self._pid is None:
            raise ChainError("anvil is not started; call start() first")
        return self._pid

    @property
    def chain_id(self) -> int:
        """The chain id anvil answered with (not merely the one requested)."""
        if self._chain_id is None:
            raise ChainError("anvil is not started; call start() first")
        return self._chain_id

    def start(self) -> Anvil:
        if self._proc is not None:
            raise ChainError(f"anvil is already running (pid {self._proc.pid})")
        if not self._binary.is_file():
            raise ToolchainError(f"anvil not found at {self._binary}; run `make setup`")
        if self._port is None:
            self._port = free_port()
        elif _port_in_use(self._port):
            raise ChainError(f"cannot start anvil: port {self._port} on {HOST} is already in use")
        cmd = [str(self._binary), "--host", HOST, "--port", str(self._port), "--silent"]
        if self._requested_chain_id is not None:
            cmd += ["--chain-id", str(self._requested_chain_id)]
        # stderr goes to a file, not a pipe: nobody reads a pipe while anvil runs, and a
        # full pipe would block it. We read the file's tail only to explain a failure.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self._pid = self._proc.pid
        try:
            self._chain_id = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> int:
        assert self._proc is not None
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._proc.poll() is not None:
                tail = self._stderr_tail()
                if "address already in use" in tail.lower():
                    raise ChainError(
                        f"cannot start anvil: port {self._port} on {HOST} is already in use"
                    )
                raise ChainError(
                    f"anvil exited early (code {self._proc.returncode}): {tail or 'no output'}"
                )
            try:
                return rpc_chain_id(self.rpc_url)
            except (OSError, ValueError, KeyError):
                pass  # not listening yet
            if time.monotonic() >= deadline:
                raise ChainError(
                    f"anvil at {self.rpc_url} did not answer within {self._startup_timeout:g} s"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return " ".join(text[-_STDERR_TAIL_CHARS:].split())  # one line for the CLI

    def stop(self) -> None:
        """Terminate anvil (SIGTERM, then SIGKILL) and reap it; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self._stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
