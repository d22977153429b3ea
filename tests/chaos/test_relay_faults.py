"""The fault modes of ``DelayRelay`` (node/swarm/delay.py) on loopback, against an echo
server: loss stalls bytes by one RTO without changing them, ``reset_rate`` resets
connections, ``cut("reset")`` resets open and new connections, ``cut("blackhole")``
silences them, ``heal()`` lets new connections through and resets the blackholed ones."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest

from node.swarm.delay import DelayRelay

pytestmark = pytest.mark.timeout(60)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _relay(**kwargs: object) -> AsyncIterator[DelayRelay]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    relay = await DelayRelay(target_port=server.sockets[0].getsockname()[1], rng=random.Random(1),
                             **kwargs).start()  # type: ignore[arg-type]
    try:
        yield relay
    finally:
        await relay.close()
        server.close()


async def _roundtrip(relay: DelayRelay, payload: bytes = b"ping", timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), timeout)
    finally:
        writer.close()


def test_loss_stalls_bytes_by_one_rto_and_keeps_them_intact() -> None:
    async def main() -> None:
        async for relay in _relay(loss=1.0, rto_ms=150):
            start = time.monotonic()
            assert await _roundtrip(relay, b"x" * 1000) == b"x" * 1000
            took = time.monotonic() - start
            assert 0.28 <= took < 1.5, took  # one RTO each way
            assert relay.stalls == 2 and relay.resets == 0
    asyncio.run(main())


def test_reset_rate_resets_the_connection() -> None:
    async def main() -> None:
        async for relay in _relay(reset_rate=1.0):
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                await _roundtrip(relay)
            assert relay.resets == 1
    asyncio.run(main())


def test_partition_reset_and_blackhole_then_heal() -> None:
    async def main() -> None:
        async for relay in _relay():
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"a")
            assert await reader.readexactly(1) == b"a"
            await relay.cut("reset")  # the open connection is reset, a new one too
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                writer.write(b"b")
                await writer.drain()
                await asyncio.wait_for(reader.readexactly(1), 2)
            writer.close()
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                await _roundtrip(relay)
            await relay.heal()
            assert await _roundtrip(relay) == b"ping"

            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"c")
            assert await reader.readexactly(1) == b"c"
            await relay.cut("blackhole")  # silent: open and new connections get nothing
            writer.write(b"d")
            await writer.drain()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.readexactly(1), 0.5)
            with pytest.raises(TimeoutError):
                await _roundtrip(relay, timeout=0.5)
            assert relay.bytes_blackholed >= 1
            await relay.heal()  # the blackholed connection lost bytes: it is reset
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(reader.readexactly(1), 2)
            writer.close()
            assert await _roundtrip(relay) == b"ping"
    asyncio.run(main())


def test_egress_delay_slows_only_what_the_target_sends() -> None:
    async def main() -> None:
        async for relay in _relay(egress_delay_ms=300):
            start = time.monotonic()
            assert await _roundtrip(relay) == b"ping"
            assert 0.28 <= time.monotonic() - start < 0.55  # once, not once each way
    asyncio.run(main())
