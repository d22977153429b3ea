"""A delaying TCP relay: simulated distance — and simulated faults — between processes on
one machine.

This kernel has no ``netem``, so latency is added in user space: the relay listens on a
loopback port, connects each accepted connection to a target port, and forwards the real
bytes in both directions, each chunk delivered ``delay_ms`` (± ``jitter_ms``, never out of
order) after it was read. An inferer that announces the relay's address instead of its
own (``helio node serve --port P --announce /ip4/127.0.0.1/tcp/<relay port>``) is reached
only through it, so every message to or from it travels one delayed hop. Delays can be
changed while connections are open (``relay.delay_ms = 50``); ``egress_delay_ms`` delays
only what the target sends (a slow server: its answers come late, its requests do not).

Faults (chaos tests, ``tests/chaos``). The relay carries TCP byte streams, not packets,
so faults are modelled as what a TCP endpoint sees of them — never as lost or corrupted
bytes inside a stream that stays open:

- **packet loss** (``loss``, e.g. 0.05): TCP retransmits a lost segment, so the bytes
  arrive intact and in order, late. Each chunk read is held back, with probability
  ``loss``, by one retransmission timeout ``rto_ms`` (200 ms: Linux's minimum RTO) on top
  of the delay; later chunks wait behind it (head-of-line blocking).
- **connection resets** (``reset_rate``): with that probability per chunk read the
  connection is reset in both directions (``SO_LINGER`` 0: both ends see ``ECONNRESET``),
  as a connection that gives up after repeated losses or a NAT that drops its mapping.
- **partition** (``await relay.cut("blackhole" | "reset")``, ``await relay.heal()``):
  ``reset`` resets every open connection and every new one at once (a peer that is down
  or firewalled with RST); ``blackhole`` keeps connections open but delivers nothing more
  in either direction and accepts new ones that go nowhere (a silent partition: only
  timeouts notice it). ``heal()`` forwards new connections again and resets the
  blackholed ones (their byte streams lost data: no TCP connection survives that).

What it cannot model: a partition between two processes that are both still reachable
from a third (one relay sits in front of one process and cuts all of its links), and
reordering or duplication (TCP hides both).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

CHUNK = 1 << 16
PartitionMode = Literal["blackhole", "reset"]


@dataclass(eq=False)
class _Link:
    """One relayed connection: the accepted side and the upstream side."""

    writers: list[asyncio.StreamWriter]
    blackholed: bool = False
    broken: bool = False
    open_dirs: int = 2  # directions still pumping; the link is forgotten at 0

    def reset(self) -> None:
        """RST both ends (SO_LINGER 0 then close), stop forwarding."""
        self.broken = True
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(Exception):
                writer.transport.abort()


@dataclass
class DelayRelay:
    target_port: int
    delay_ms: float = 0.0  # one-way, each direction
    egress_delay_ms: float = 0.0  # more, on bytes from the target only (a slow server's answers)
    jitter_ms: float = 0.0  # uniform ± jitter, clamped so bytes stay in order
    host: str = "127.0.0.1"
    port: int = 0  # listen port (0: any free one; read .port after start)
    rng: random.Random = field(default_factory=random.Random)
    loss: float = 0.0  # fraction of chunks held back by one retransmission timeout
    rto_ms: float = 200.0
    reset_rate: float = 0.0  # fraction of chunks that reset their connection
    bytes_forwarded: int = 0
    bytes_blackholed: int = 0
    stalls: int = 0  # chunks held back by a simulated loss
    resets: int = 0  # connections reset (by reset_rate, cut("reset") or heal())
    partition: PartitionMode | None = None
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _links: set[_Link] = field(default_factory=set)

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

    # --- faults --------------------------------------------------------------------------
    async def cut(self, mode: PartitionMode = "blackhole") -> None:
        """Partition the target from everyone on the other side of this relay."""
        if mode not in ("blackhole", "reset"):
            raise ValueError(f"unknown partition mode {mode!r}")
        self.partition = mode
        for link in list(self._links):
            if mode == "reset":
                self._reset(link)
            else:
                link.blackholed = True

    async def heal(self) -> None:
        """End the partition: new connections go through; blackholed ones are reset."""
        self.partition = None
        for link in list(self._links):
            if link.blackholed:
                self._reset(link)

    def _reset(self, link: _Link) -> None:
        if not link.broken:
            self.resets += 1
            link.reset()
        self._links.discard(link)

    # --- forwarding ----------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.partition == "reset":
            self._reset(_Link([writer]))
            return
        if self.partition == "blackhole":  # accepted, goes nowhere, silent
            link = _Link([writer], blackholed=True, open_dirs=1)
            self._links.add(link)
            self._spawn(self._pump(reader, None, link))
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.close()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link([writer, up_writer])
        self._links.add(link)
        for source, sink, egress in ((reader, up_writer, False), (up_reader, writer, True)):
            self._spawn(self._pump(source, sink, link, egress))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter | None,
                    link: _Link, egress: bool = False) -> None:
        """Read chunks as they come; a second task delivers each at read time + delay."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, sink, link)) if sink is not None else None
        last_due = 0.0
        try:
            while data := await source.read(CHUNK):
                if link.broken:
                    break
                if link.blackholed:
                    self.bytes_blackholed += len(data)
                    continue
                if self.reset_rate and self.rng.random() < self.reset_rate:
                    self._reset(link)
                    break
                due = time.monotonic() + self._one_way_s() + (self.egress_delay_ms / 1000.0 if egress else 0.0)
                if self.loss and self.rng.random() < self.loss:
                    due += self.rto_ms / 1000.0
                    self.stalls += 1
                last_due = max(due, last_due)  # jitter and stalls never reorder bytes
                queue.put_nowait((last_due, data))
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            queue.put_nowait(None)
            if deliver is not None:
                with contextlib.suppress(Exception):
                    await deliver
            elif not link.broken:
                with contextlib.suppress(Exception):
                    link.writers[0].close()
            link.open_dirs -= 1
            if link.open_dirs <= 0:
                self._links.discard(link)

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes] | None],
                       sink: asyncio.StreamWriter, link: _Link) -> None:
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if link.broken:
                    break
                if link.blackholed:
                    self.bytes_blackholed += len(data)
                    continue
                sink.write(data)
                self.bytes_forwarded += len(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not link.blackholed:
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
