"""What the client does when a server fails: ban it with a growing backoff (``Bans``),
and rebuild the KV caches of its replacements by replaying the kept inputs
(``replay``). ``SwarmRoute._repair`` (node/client/swarm_route.py) ties the two together:
ban, re-plan the failed hop's blocks, open the replacements, replay, resume the step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hivemind.proto import runtime_pb2

from node.client.swarm_hops import HopStream
from node.swarm.errors import PeerFailure, short_peer

log = logging.getLogger(__name__)


@dataclass
class _Ban:
    until: float
    count: int


class Bans:
    """Failed servers, each banned for ``ban_s`` doubling per repeated failure, at most
    ``max_ban_s``."""

    def __init__(self, ban_s: float, max_ban_s: float) -> None:
        self.ban_s = ban_s
        self.max_ban_s = max_ban_s
        self._bans: dict[str, _Ban] = {}

    def banned(self) -> set[str]:
        now = time.monotonic()
        return {peer for peer, ban in self._bans.items() if ban.until > now}

    def ban(self, peer_id: str, reason: str) -> float:
        """Ban ``peer_id``; return for how many seconds."""
        previous = self._bans.get(peer_id)
        count = previous.count + 1 if previous else 1
        seconds = min(self.ban_s * 2.0 ** (count - 1), self.max_ban_s)
        self._bans[peer_id] = _Ban(time.monotonic() + seconds, count)
        log.warning("banned %s for %.0f s: %s", short_peer(peer_id), seconds, reason)
        return seconds

    def lift(self, peer_id: str) -> None:
        """Forget ``peer_id``'s ban and its count (it may be routed to at once)."""
        self._bans.pop(peer_id, None)


# A hop's answer to a step: (its StepResult, its output tensor) → checked, kept as evidence.
Accept = Callable[[HopStream, int, Any, runtime_pb2.Tensor], Any]


async def replay(
    hops: list[HopStream],
    upto: int,
    chunks: list[tuple[int, int]],
    inputs: dict[int, dict[int, runtime_pb2.Tensor]],
    accept: Accept,
    timeout: Callable[[int], float],
) -> None:
    """Send steps ``0..upto-1`` through ``hops`` in their original chunks (``chunks[step]``
    = (position, tokens); ``inputs[block][step]`` = the encoded input there), one by one,
    so each new server's KV cache holds exactly what the failed one held. Every answer
    goes through ``accept``; on any failure the hops are closed."""
    try:
        for step in range(upto):
            for hop in hops:
                hop.send(step, chunks[step][0], inputs[hop.hop.start][step], [])
                done, _ = await asyncio.wait(  # type: ignore[type-var]  # closed: set once open
                    {hop.result(step), hop.closed},
                    timeout=timeout(step), return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    raise PeerFailure(hop.peer_id, f"no answer to replayed step {step}")
                if hop.closed is not None and hop.closed.done():
                    raise PeerFailure(hop.peer_id, hop.closed.result())
                accept(hop, step, *hop.result(step).result())
    except BaseException:
        await close_all(hops)
        raise


async def close_all(hops: list[HopStream]) -> None:
    await asyncio.gather(*(h.close() for h in hops), return_exceptions=True)
