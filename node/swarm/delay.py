"""A delaying TCP relay: simulated distance between processes on one machine.

This kernel has no ``netem``, so latency is added in user space: the relay listens on a
loopback port, connects each accepted connection to a target port, and forwards the real
bytes in both directions, each chunk delivered ``delay_ms`` (± ``jitter_ms``, never out of
order) after it was read. An inferer that announces the relay's address instead of its
own (``helio node serve --port P --announce /ip4/127.0.0.1/tcp/<relay port>``) is reached
only through it, so every message to or from it travels one delayed hop. Delays can be
changed while connections are open (``relay.delay_ms = 50``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CHUNK = 1 << 16


@dataclass
class DelayRelay:
    target_port: int
    delay_ms: float = 0.0  # one-way, each direction
    jitter_ms: float = 0.0  # uniform ± jitter, clamped so bytes stay in order
    host: str = "127.0.0.1"
    port: int = 0  # listen port (0: any free one; read .port after start)
    rng: random.Random = field(default_factory=random.Random)
    bytes_forwarded: int = 0
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> DelayRelay:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Read chunks as they come; a second task delivers each at read time + delay."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, sink))
        last_due = 0.0
        try:
            while data := await source.read(CHUNK):
                due = time.monotonic() + self._one_way_s()
                last_due = max(due, last_due)  # jitter never reorders bytes
                queue.put_nowait((last_due, data))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await deliver

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes] | None],
                       sink: asyncio.StreamWriter) -> None:
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                sink.write(data)
                self.bytes_forwarded += len(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()

    def _one_way_s(self) -> float:
        jitter = self.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.delay_ms + jitter) / 1000.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for a process that must be told its port)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
