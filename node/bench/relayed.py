"""A local swarm whose inferers are reachable only through delaying relays: the WAN
stand-in of `helio bench swarm` (latency per RTT) and of the speculative-decoding bench."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from node.harness.swarm import LocalSwarm
from node.swarm.delay import DelayRelay, free_port
from node.swarm.peer import LoopThread


@contextmanager
def relayed_swarm(model_dir: Path, logs: Path, spans: list[tuple[int, int]], threads: int,
                  serve_args: Sequence[str] = ()) -> Iterator[tuple[LocalSwarm, Callable[[float], None]]]:
    """Yields the ready swarm and ``set_rtt(ms)``, which sets every relay's one-way delay
    to half the round trip. ``serve_args`` go to every ``node serve`` (e.g. ``--device``)."""
    loop = LoopThread("bench-relays")
    relays: list[DelayRelay] = []

    def set_rtt(rtt_ms: float) -> None:
        def apply() -> None:
            for relay in relays:
                relay.delay_ms = rtt_ms / 2

        loop.loop.call_soon_threadsafe(apply)
        time.sleep(0.05)

    try:
        with LocalSwarm(model_dir, logs, threads=threads, refresh_s=10) as swarm:
            swarm.start_bootstrap()
            for span in spans:
                port = free_port()
                relay = loop.run(DelayRelay(target_port=port).start())
                relays.append(relay)
                swarm.start_inferer(span, wait=False, extra_args=[
                    "--port", str(port), "--announce", f"/ip4/127.0.0.1/tcp/{relay.port}", *serve_args])
            swarm.wait_ready()
            yield swarm, set_rtt
    finally:
        for relay in relays:
            loop.run(relay.close())
        loop.stop()
