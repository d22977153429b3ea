"""A stand-in for a Kubo daemon's HTTP RPC API, for testing ``KuboRpcStore`` here.

No Kubo daemon can be installed on these machines (its npm/Go packages download
binaries), so this serves the few ``/api/v0`` commands the store uses, answered by a
real embedded Kubo node: ``id``, ``version``, ``swarm/connect``, ``swarm/peers``,
``add`` (multipart; it refuses parameters other than the CIDv0 defaults), ``pin/add``,
``pin/ls``, and ``cat`` with ``offset``, streamed in small chunks. The real-daemon
test in test_ipfs_rpc.py runs whenever one is reachable.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from node.ipfs.embedded import EmbeddedStore
from node.ipfs.errors import IpfsError
from node.ipfs.rpc import ADD_PARAMS

SHIM_GET_TIMEOUT_S = 5.0
CHUNK = 1 << 16


class KuboRpcShim:
    def __init__(self, store: EmbeddedStore, scratch: Path) -> None:
        self.store, self.scratch = store, scratch
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # A client that gave up (timeout test) leaves a broken pipe: not worth a traceback.
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.chunk_delay_s = 0.0  # slow the stream down (to test the client's cap)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        shim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, obj: Any, status: int = 200) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, message: str) -> None:
                self._reply({"Message": message, "Code": 0, "Type": "error"}, 500)

            def do_POST(self) -> None:
                url = urlparse(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                command = url.path.removeprefix("/api/v0/")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    self._dispatch(command, q, body)
                except IpfsError as exc:
                    self._error(str(exc))

            def _dispatch(self, command: str, q: dict[str, str], body: bytes) -> None:
                store = shim.store
                if command == "id":
                    self._reply({"ID": store.peer_id, "Addresses": store.addrs()})
                elif command == "version":
                    self._reply({"Version": "0.22.0-shim"})
                elif command == "swarm/connect":
                    if not store.connect(q["arg"]):
                        return self._error(f"connect {q['arg']} failure")
                    self._reply({"Strings": [f"connect {q['arg']} success"]})
                elif command == "swarm/peers":
                    self._reply({"Peers": [{"Peer": p} for p in store.connected_peers()]})
                elif command == "add":
                    if any(q.get(k) != v for k, v in ADD_PARAMS.items()):
                        return self._error(f"shim only imports with {ADD_PARAMS}, got {q}")
                    path = shim.scratch / f"add-{time.monotonic_ns()}"
                    path.write_bytes(_multipart_file(self.headers["Content-Type"], body))
                    self._reply({"Name": path.name, "Hash": store.add(path), "Size": "0"})
                elif command == "pin/add":
                    store.pin(q["arg"])
                    self._reply({"Pins": [q["arg"]]})
                elif command == "pin/ls":
                    self._reply({"Keys": {c: {"Type": "recursive"} for c in store.pinned()}})
                elif command == "cat":
                    self._cat(q["arg"], int(q.get("offset", "0")))
                else:
                    self._error(f"shim does not implement {command}")

            def _cat(self, cid: str, offset: int) -> None:
                with tempfile.TemporaryDirectory(dir=shim.scratch) as tmp:
                    path = Path(tmp) / "out"
                    shim.store.get(cid, path, timeout_s=SHIM_GET_TIMEOUT_S)
                    data = path.read_bytes()[offset:]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for i in range(0, len(data), CHUNK):
                    self.wfile.write(data[i : i + CHUNK])
                    if shim.chunk_delay_s:
                        time.sleep(shim.chunk_delay_s)

        return Handler


def _multipart_file(content_type: str, body: bytes) -> bytes:
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    assert boundary, content_type
    part = body.split(b"--" + boundary[1].encode())[1]
    _headers, _, content = part.partition(b"\r\n\r\n")
    return content.removesuffix(b"\r\n")
