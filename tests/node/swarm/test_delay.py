"""The delaying relay: real bytes over real sockets, the configured one-way delay each
way, nothing lost or reordered (with jitter too)."""

from __future__ import annotations

import asyncio
import time

from node.swarm.delay import DelayRelay
from node.swarm.peer import LoopThread


async def _echo_server() -> tuple[asyncio.AbstractServer, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _round_trips(relay: DelayRelay, payloads: list[bytes]) -> tuple[list[float], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    times, received = [], b""
    for payload in payloads:
        started = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        got = b""
        while len(got) < len(payload):
            got += await reader.read(65536)
        times.append((time.perf_counter() - started) * 1e3)
        received += got
    writer.close()
    return times, received


def test_relay_adds_the_delay_both_ways_and_keeps_every_byte() -> None:
    loop = LoopThread("test-delay")
    try:
        server, port = loop.run(_echo_server())
        relay = loop.run(DelayRelay(target_port=port, delay_ms=20).start())
        payloads = [bytes([i]) * (1000 * (i + 1)) for i in range(5)]
        times, received = loop.run(_round_trips(relay, payloads))
        assert received == b"".join(payloads)
        assert all(35 <= t <= 200 for t in times), times  # 2 × 20 ms one way, plus slack
        relay.delay_ms, relay.jitter_ms = 5, 5  # changed while connected
        burst = [bytes([i % 256]) * 300 for i in range(50)]
        _, received = loop.run(_round_trips(relay, burst))
        assert received == b"".join(burst)  # jitter never reorders
        loop.run(relay.close())
        server.close()
    finally:
        loop.stop()
