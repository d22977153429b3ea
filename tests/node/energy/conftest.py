"""Real devices on loopback for the adapter tests.

- ``sunspec_device``: a SunSpec register map (built with pysunspec2's own model
  definitions and encoders) served over Modbus TCP by a real pymodbus server on
  127.0.0.1; ``device.set(model_id, point=value, ...)`` changes what it serves.
- ``fronius_server``: a real HTTP server on 127.0.0.1 answering
  ``/solar_api/v1/GetPowerFlowRealtimeData.fcgi`` with a JSON document the test sets.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SunSpecDevice:
    """Models 1 (common) + the given ones, at base address 40000, unit id 1."""

    def __init__(self, models: dict[int, dict[str, Any]]) -> None:
        from sunspec2 import device

        self.port = free_port()
        self.models: dict[int, Any] = {}
        common = device.Model(model_id=1)
        for name, value in (("Mn", "Heliomesh"), ("Md", "TestInverter"), ("SN", "T1"), ("DA", 1)):
            getattr(common, name).value = value
        self.models[1] = common
        for mid, points in models.items():
            self.models[mid] = device.Model(model_id=mid)
            self.set(mid, **points)
        self._regs = self.image()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def set(self, model_id: int, **points: Any) -> None:
        model = self.models[model_id]
        for name, value in points.items():
            getattr(model, name).value = value
        self._regs = self.image()

    def image(self) -> list[int]:
        data = b"SunS" + b"".join(m.get_mb() for m in self.models.values())
        data += struct.pack(">HH", 0xFFFF, 0)
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]

    def start(self) -> SunSpecDevice:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        ready = threading.Event()

        async def serve_current(fc: int, start: int, address: int, count: int,
                                current: list[int], set_values: Any) -> None:
            current[:] = self._regs[: len(current)]  # serve what the test set last

        async def main() -> None:
            sim = SimDevice(
                id=0,
                simdata=[SimData(40000, values=list(self._regs) + [0] * 64, datatype=DataType.REGISTERS)],
                action=serve_current,
            )
            self._server = ModbusTcpServer(sim, address=("127.0.0.1", self.port))
            self._loop = asyncio.get_running_loop()
            ready.set()
            await self._server.serve_forever()

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
        self._thread.start()
        ready.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait until the port accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the pymodbus test server did not start")

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            fut.result(10)
        if self._thread is not None:
            self._thread.join(10)
        self._server = None


@pytest.fixture
def sunspec_device() -> Iterator[Any]:
    started: list[SunSpecDevice] = []

    def make(models: dict[int, dict[str, Any]]) -> SunSpecDevice:
        dev = SunSpecDevice(models).start()
        started.append(dev)
        return dev

    yield make
    for dev in started:
        dev.stop()


class FroniusServer:
    def __init__(self) -> None:
        self.doc: Any = {}
        self.status = 200
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests += 1
                if self.path.split("?")[0] != "/solar_api/v1/GetPowerFlowRealtimeData.fcgi":
                    self.send_error(404)
                    return
                body = outer.doc if isinstance(outer.doc, bytes) else json.dumps(outer.doc).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fronius_server() -> Iterator[FroniusServer]:
    server = FroniusServer()
    yield server
    server.stop()
