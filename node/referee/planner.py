"""Route planning: the chain of servers covering blocks ``[start, end)`` with the lowest
expected latency per step. A library: the client embeds it; the gateway's referee too.

Shortest path over states (block boundary, previous server): from boundary ``b`` a
server ``s`` with ``s.start ≤ b < s.end`` takes the step to a boundary ``j`` in
``(b, s.end]`` (its own end, or where another server's span starts) at cost

    hop(prev → s) + compute(s, j − b)  [+ return(s → client) when j is the end]

- ``hop``: half the measured RTT (the previous server's announced ping to ``s``, else
  the client's own ping to ``s``, else ``default_rtt_ms``), plus ``relay_penalty_ms`` for
  a relayed server.
- ``compute``: blocks × the server's per-block time (1000 / throughput / span length,
  in ms), times ``1 + load_penalty × open sessions``, times
  ``1 + trust_penalty × (1 − trust)`` when a ``trust`` score is set (reputation from
  spot-checks, ``node/referee/reputation.py``; a trust of 0 means no route at all).

Only ``online`` servers with KV-cache room for the session, not banned, and (when a
stake checker is set) with active stake are used. Nothing a peer claims is trusted for
more than ranking: a server that claims blocks it does not serve fails at ``open`` and
is banned by the client.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from node.referee.manifests import same_manifest
from node.swarm.errors import MissingBlocksError
from node.swarm.records import ServerRecord, ServerState


@dataclass(frozen=True)
class Hop:
    """One server of a route and the blocks it runs for this session."""

    peer_id: str
    start: int
    end: int
    address: str
    maddrs: tuple[str, ...] = ()  # where to dial it (from its record)


@dataclass
class PlannerConfig:
    default_rtt_ms: float = 5.0  # assumed RTT to a server nobody has measured
    relay_penalty_ms: float = 25.0  # a relayed server costs this much more per hop
    load_penalty: float = 0.25  # compute time × (1 + this × sessions the server has open)
    min_throughput: float = 0.01  # tokens/s floor, so a claim of 0 cannot divide by zero
    jitter: float = 0.0  # random ± fraction on costs to spread equal-cost sessions
    trust_penalty: float = 1.0  # compute × (1 + this × (1 − trust)): a score of 0.5 costs 1.5×


class RoutePlanner:
    def __init__(self, config: PlannerConfig | None = None,
                 is_staked: Callable[[ServerRecord], bool] | None = None,
                 penalty_ms: Callable[[ServerRecord], float] | None = None,
                 rng: random.Random | None = None,
                 trust: Callable[[ServerRecord], float] | None = None) -> None:
        self.config = config or PlannerConfig()
        self.is_staked = is_staked  # None: no chain configured, every signed record counts
        self.penalty_ms = penalty_ms  # e.g. energy-aware preference; ≥ 0 ms per hop
        self.trust = trust  # reputation in [0, 1] (0: excluded); None: everyone 1
        self.rng = rng or random.Random()

    def usable(self, records: Iterable[ServerRecord], *, banned: set[str] | frozenset[str] = frozenset(),
               max_length: int = 1) -> list[ServerRecord]:
        out = []
        for record in records:
            if record.state != ServerState.ONLINE or record.peer_id in banned:
                continue
            if record.cache_tokens_left < max_length:
                continue
            if self.is_staked is not None and not self.is_staked(record):
                continue
            if self.trust is not None and self.trust(record) <= 0:
                continue  # jailed, or caught lying by this referee
            out.append(record)
        return out

    def plan(self, records: Iterable[ServerRecord], model_id: str, start: int, end: int, *,
             banned: set[str] | frozenset[str] = frozenset(), max_length: int = 1,
             rtts_ms: dict[str, float] | None = None, previous: str | None = None,
             return_to_client: bool = True, manifest_cid: str | None = None) -> list[Hop]:
        """The cheapest chain of hops covering ``[start, end)``; ``MissingBlocksError``
        naming the uncovered blocks if there is none. ``previous`` is the server before
        ``start`` (None: the client sends the first hop). Spans of one manifest only:
        ``manifest_cid`` (the client's weights), else the best-covering one."""
        if not 0 <= start < end:
            raise ValueError(f"cannot plan the empty range [{start}, {end})")
        servers = same_manifest(self.usable(records, banned=banned, max_length=max_length),
                                start, end, manifest_cid)
        rtts = rtts_ms or {}
        by_peer = {s.peer_id: s for s in servers}
        boundaries = sorted({start, end, *(b for s in servers for b in (s.start, s.end) if start < b < end)})
        counter = itertools.count()  # tie-breaker so the heap never compares records
        best: dict[tuple[int, str | None], float] = {(start, previous): 0.0}
        parent: dict[tuple[int, str | None], tuple[tuple[int, str | None], Hop]] = {}
        heap: list[tuple[float, int, int, str | None]] = [(0.0, next(counter), start, previous)]
        finished: tuple[float, tuple[int, str | None]] | None = None
        while heap:
            cost, _, block, prev = heapq.heappop(heap)
            if cost > best.get((block, prev), float("inf")):
                continue
            if block == end:
                finished = (cost, (block, prev))
                break
            for server in servers:
                if not server.start <= block < server.end:
                    continue
                hop_ms = self._hop_ms(prev, server, by_peer, rtts)
                per_block = self._per_block_ms(server)
                for target in boundaries:
                    if not block < target <= min(server.end, end):
                        continue
                    step = hop_ms + per_block * (target - block)
                    if target == end and return_to_client:
                        step += rtts.get(server.peer_id, self.config.default_rtt_ms) / 2
                    if self.config.jitter:
                        step *= 1 + self.rng.uniform(-self.config.jitter, self.config.jitter)
                    state: tuple[int, str | None] = (target, server.peer_id)
                    if cost + step < best.get(state, float("inf")):
                        best[state] = cost + step
                        parent[state] = ((block, prev), Hop(server.peer_id, block, target, server.address,
                                                            tuple(server.maddrs)))
                        heapq.heappush(heap, (cost + step, next(counter), target, server.peer_id))
        if finished is None:
            raise MissingBlocksError(model_id, self._uncovered(servers, start, end),
                                     _why(records, banned, len(servers)))
        hops: list[Hop] = []
        state = finished[1]
        while state in parent:
            state, hop = parent[state]
            hops.append(hop)
        return hops[::-1]

    def _hop_ms(self, prev: str | None, server: ServerRecord, by_peer: dict[str, ServerRecord],
                rtts: dict[str, float]) -> float:
        rtt = None
        if prev is not None and prev in by_peer:
            rtt = by_peer[prev].pings.get(server.peer_id)
        if rtt is None:
            rtt = rtts.get(server.peer_id, self.config.default_rtt_ms)
        cost = rtt / 2
        if server.relayed:
            cost += self.config.relay_penalty_ms
        if self.penalty_ms is not None:
            cost += max(0.0, self.penalty_ms(server))
        return cost

    def _per_block_ms(self, server: ServerRecord) -> float:
        throughput = max(server.throughput, self.config.min_throughput)
        per_block = 1000.0 / throughput / (server.end - server.start)
        per_block *= 1 + self.config.load_penalty * server.sessions
        if self.trust is not None:
            per_block *= 1 + self.config.trust_penalty * (1 - min(self.trust(server), 1.0))
        return per_block

    @staticmethod
    def _uncovered(servers: list[ServerRecord], start: int, end: int) -> list[int]:
        covered = {b for s in servers for b in s.blocks}
        missing = [b for b in range(start, end) if b not in covered]
        return missing or list(range(start, end))


def _why(records: Iterable[ServerRecord], banned: set[str] | frozenset[str], usable: int) -> str:
    records = list(records)
    if not records:
        return "no server of this model is announced in the DHT"
    online = sum(r.state == ServerState.ONLINE for r in records)
    return (f"{len(records)} announced, {online} online, {len(banned)} banned after failures, "
            f"{usable} usable")
