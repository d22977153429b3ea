"""Helpers of the payment tests (imported as ``paykit``): damaged voucher signatures, a
real ``helio gateway`` process."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from node.client.vouchers import SignedVoucher

ROOT = Path(__file__).resolve().parents[2]


def damaged_signatures(signed: SignedVoucher) -> dict[str, SignedVoucher | str]:
    """Each kind of broken signature, as a SignedVoucher (decodes) or a header (does not)."""
    sig = signed.signature
    flip_r = bytes([sig[0] ^ 0x01]) + sig[1:]
    high_s = sig[:32] + (2**256 - 1).to_bytes(32, "big") + sig[64:]
    out: dict[str, SignedVoucher | str] = {
        "v=0": sig[:64] + b"\x00", "v=29": sig[:64] + bytes([29]), "flipped r": flip_r,
        "all zero": bytes(65), "high s": high_s,
    }
    for name, raw in list(out.items()):
        out[name] = SignedVoucher(signed.voucher, raw, signed.chain_id, signed.verifying_contract)  # type: ignore[arg-type]
    good = signed.encode()
    body = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    for name, value in {"64 bytes": "0x" + sig[:64].hex(), "non-hex": "0xzz" + sig.hex()[4:],
                        "empty": ""}.items():
        out[name] = base64.urlsafe_b64encode(json.dumps({**body, "signature": value}).encode()).decode()
    return out


class GatewayProcess:
    """``helio gateway --rpc-url … --network N`` as an operator runs it, in its own process
    group; ``start()`` returns once ``GET /v1/models`` answers, ``kill()`` is SIGKILL."""

    def __init__(self, log_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.log_path, self.args, self.env = log_path, args, env
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> GatewayProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **self.env}
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "node.cli.main", "gateway", "--port", str(self.port), *self.args],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise AssertionError(f"the gateway exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the gateway did not answer:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.3)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(15)
