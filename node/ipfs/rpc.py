"""``KuboRpcStore``: a user's own Kubo daemon, reached over its HTTP RPC API.

Plain HTTP (httpx) rather than ``ipfshttpclient``, whose ``connect()`` refuses daemons
newer than 0.7. Imports pass the CID parameters explicitly (CIDv0, ``size-262144``,
no raw leaves, balanced, sha2-256), so a daemon with other ``Import`` defaults still
produces the CIDs the manifest records. ``get`` streams ``cat``: it shows progress,
honours the bandwidth cap per chunk, gives up when no byte arrived for ``timeout_s``,
and resumes a partial file from its length (``cat --offset``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from node.ipfs.errors import IpfsBackendError, IpfsTimeoutError
from node.ipfs.ratelimit import RateLimiter
from node.ipfs.store import DEFAULT_GET_TIMEOUT_S, IpfsStore, ProgressFn

CONNECT_TIMEOUT_S = 5.0  # opening a connection to the daemon
ADD_TIMEOUT_S = 600.0  # importing one file (the daemon reads and hashes it all)
STREAM_CHUNK = 1 << 16

ADD_PARAMS = {
    "cid-version": "0",
    "chunker": "size-262144",
    "raw-leaves": "false",
    "trickle": "false",  # balanced layout (Kubo fixes 174 links per node)
    "hash": "sha2-256",
    "pin": "true",
    "quieter": "true",
}


def api_url(api: str) -> str:
    """``http://host:port`` from a URL or a multiaddr like ``/ip4/127.0.0.1/tcp/5001``."""
    if m := re.fullmatch(r"/(?:ip4|ip6|dns|dns4|dns6)/([^/]+)/tcp/(\d+)(?:/http)?", api):
        host = f"[{m[1]}]" if ":" in m[1] else m[1]
        return f"http://{host}:{m[2]}"
    if re.match(r"^https?://", api):
        return api.rstrip("/")
    raise IpfsBackendError(f"cannot read Kubo API address {api!r}: use http://host:port or a multiaddr")


class KuboRpcStore(IpfsStore):
    """A Kubo daemon's RPC API (``Addresses.API`` in its config, port 5001 by default)."""

    backend = "kubo-rpc"

    def __init__(self, api: str) -> None:
        self.url = api_url(api)
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v0",
            timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT_S),
        )
        identity = self._call("id")
        self._peer_id = str(identity["ID"])
        self._addrs = [str(a) for a in identity.get("Addresses") or []]
        self.version = str(self._call("version").get("Version", "?"))

    def _call(self, command: str, timeout: float | None = None, **params: Any) -> Any:
        try:
            response = self._http.post(
                f"/{command}", params=params, timeout=timeout or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TransportError as exc:
            raise IpfsBackendError(
                f"cannot reach the Kubo daemon at {self.url} ({exc.__class__.__name__}): "
                "start it (`ipfs daemon`) or pass its API address with --api"
            ) from exc
        return self._json(command, response)

    def _json(self, command: str, response: httpx.Response) -> Any:
        if response.status_code != 200:
            try:
                message = response.json().get("Message", response.text)
            except ValueError:
                message = response.text
            raise IpfsBackendError(f"Kubo at {self.url}: {command} failed: {message.strip()}")
        lines = [line for line in response.text.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else {}

    @property
    def peer_id(self) -> str:
        return self._peer_id

    def addrs(self) -> list[str]:
        return [a if "/p2p/" in a else f"{a}/p2p/{self._peer_id}" for a in self._addrs]

    def connect(self, multiaddr: str) -> bool:
        try:
            self._call("swarm/connect", arg=multiaddr)
        except IpfsBackendError:
            return False
        return True

    def connected_peers(self) -> list[str]:
        peers = self._call("swarm/peers").get("Peers") or []
        return [str(p["Peer"]) for p in peers]

    def add(self, path: Path) -> str:
        if not path.is_file():
            raise IpfsBackendError(f"cannot add {path}: not a file")
        with open(path, "rb") as f:
            try:
                response = self._http.post(
                    "/add", params=ADD_PARAMS, files={"file": (path.name, f)}, timeout=ADD_TIMEOUT_S
                )
            except httpx.TransportError as exc:
                raise IpfsBackendError(f"adding {path} to Kubo at {self.url} failed: {exc}") from exc
        return str(self._json("add", response)["Hash"])

    def pin(self, cid: str) -> None:
        self._call("pin/add", arg=cid, recursive="true")

    def pinned(self) -> set[str]:
        return set(self._call("pin/ls", type="recursive").get("Keys") or {})

    def get(
        self,
        cid: str,
        dest: Path,
        *,
        timeout_s: float = DEFAULT_GET_TIMEOUT_S,
        on_bytes: ProgressFn | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        offset = dest.stat().st_size if dest.is_file() else 0
        if offset and on_bytes is not None:
            on_bytes(offset)  # resumed: these bytes are already here
        params = {"arg": cid, "offset": str(offset)}
        timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)  # read = stall limit
        try:
            with self._http.stream("POST", "/cat", params=params, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    self._json("cat", response)
                with open(dest, "ab") as out:
                    for chunk in response.iter_bytes(STREAM_CHUNK):
                        out.write(chunk)
                        if on_bytes is not None:
                            on_bytes(len(chunk))
                        if limiter is not None:
                            limiter.consume(len(chunk))
                if error := response.headers.get("X-Stream-Error"):
                    raise IpfsBackendError(f"Kubo at {self.url}: cat {cid} failed: {error}")
        except httpx.ReadTimeout:
            raise IpfsTimeoutError(
                f"no data for {cid} within {timeout_s:.0f} s from the Kubo daemon at {self.url}; "
                "make sure a peer that has it is reachable from the daemon"
            ) from None
        except httpx.TransportError as exc:
            raise IpfsBackendError(f"cat {cid} from Kubo at {self.url} failed: {exc}") from exc

    def close(self) -> None:
        self._http.close()
