"""``SwarmClient``: a client's connection to the swarm (a DHT client peer on a background
event loop, the route planner, bans, RTTs, cached records); ``route()`` makes the
``SwarmRoute`` a generation runs on. ``swarm_client()`` builds one tied to a chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from hivemind.p2p import PeerID
from hivemind.proto import runtime_pb2

from node.client.failover import Bans
from node.client.swarm_config import ClientConfig
from node.client.swarm_route import SwarmRoute
from node.crypto.eip712 import Domain
from node.referee.energy_records import RecordEnergy
from node.referee.planner import Hop, RoutePlanner
from node.referee.spotcheck import SpotChecker
from node.referee.stake import StakeCache
from node.swarm.errors import MissingBlocksError
from node.swarm.evidence import CommitmentSigner, default_domain
from node.swarm.peer import LoopThread, Peer, PeerConfig, start_peer
from node.swarm.records import ServerRecord
from node.swarm.wire import INFO_HANDLER

log = logging.getLogger(__name__)


class SwarmClient:
    """A client's connection to the swarm; make routes with ``route()``. Close it (or use
    it as a context manager) to stop its peer and event loop."""

    def __init__(self, initial_peers: list[str], *, config: ClientConfig | None = None,
                 planner: RoutePlanner | None = None, peer: PeerConfig | None = None,
                 energy: RecordEnergy | None = None) -> None:
        self.config = config or ClientConfig()
        # Verified energy reports from the records; the planner prefers headroom.
        self.energy = energy or RecordEnergy()
        self.planner = planner or RoutePlanner(penalty_ms=self.energy.penalty)
        self.loop = LoopThread("heliomesh-client")
        peer_config = peer or PeerConfig(initial_peers=list(initial_peers), client_mode=True)
        try:
            self.peer: Peer = self.loop.run(start_peer(peer_config), timeout=60)
        except BaseException:
            self.loop.stop()
            raise
        self.signer = CommitmentSigner(default_domain())
        self._bans = Bans(self.config.ban_s, self.config.max_ban_s)
        self.referee: SpotChecker | None = None  # gets finished routes' evidence (spot-checks)
        self._rtts: dict[str, tuple[float, float]] = {}  # peer -> (rtt ms, measured at)
        self._records: dict[tuple[str, int], tuple[float, dict[str, ServerRecord]]] = {}
        # model id -> CID of the manifest whose client files it embeds with: routes use
        # only spans of the same weights (unset: the planner picks one manifest)
        self.manifest_cids: dict[str, str] = {}

    def __enter__(self) -> SwarmClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run(self.peer.shutdown(), timeout=30)
        self.loop.stop()

    def route(self, model_id: str, num_blocks: int, hidden_size: int) -> SwarmRoute:
        route = SwarmRoute(self, model_id, num_blocks, hidden_size)
        if self.referee is not None:
            route.on_bad_commitment = self.referee.report_bad_commitment
        return route

    def records(self, model_id: str, num_blocks: int) -> dict[str, ServerRecord]:
        return self.loop.run(self.fetch(model_id, num_blocks, fresh=True), timeout=60)

    def wait_for_coverage(self, model_id: str, num_blocks: int, timeout: float = 60.0) -> list[Hop]:
        """Wait until a route over every block can be planned (servers online, staked when
        a stake check is set); return it. ``MissingBlocksError`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.loop.run(self.plan(model_id, num_blocks, 0, num_blocks, max_length=1))
            except MissingBlocksError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # --- used by routes (on the loop thread) -----------------------------------------------
    async def fetch(self, model_id: str, num_blocks: int, fresh: bool = False) -> dict[str, ServerRecord]:
        key = (model_id, num_blocks)
        cached = self._records.get(key)
        if not fresh and cached and time.monotonic() - cached[0] < self.config.records_ttl_s:
            return cached[1]
        records = await self.peer.dht.fetch(model_id, num_blocks)
        self._records[key] = (time.monotonic(), records)
        return records

    def banned(self) -> set[str]:
        return self._bans.banned()

    def ban(self, peer_id: str, reason: str) -> None:
        self._bans.ban(peer_id, reason)
        self._records.clear()  # look again: the swarm changed

    def unban(self, peer_id: str) -> None:
        self._bans.lift(peer_id)

    async def rtts(self, records: list[ServerRecord]) -> dict[str, float]:
        now = time.monotonic()
        stale = [r for r in records
                 if r.peer_id not in self._rtts or now - self._rtts[r.peer_id][1] > self.config.rtt_ttl_s]
        if stale:
            await asyncio.gather(*(self._ping(r) for r in stale[:32]))
        return {r.peer_id: self._rtts[r.peer_id][0] for r in records if r.peer_id in self._rtts}

    async def _ping(self, record: ServerRecord) -> None:
        await self.peer.connect(record.peer_id, record.maddrs, self.config.ping_timeout_s)
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.peer.p2p.call_protobuf_handler(
                PeerID.from_base58(record.peer_id), INFO_HANDLER, runtime_pb2.ExpertRequest(),
                runtime_pb2.ExpertResponse), self.config.ping_timeout_s)
        except Exception:
            return  # unmeasured: the planner assumes its default
        self._rtts[record.peer_id] = ((time.perf_counter() - started) * 1e3, time.monotonic())

    async def plan(self, model_id: str, num_blocks: int, start: int, end: int, *,
                   max_length: int, previous: str | None = None) -> list[Hop]:
        records = await self.fetch(model_id, num_blocks)
        banned = self.banned()
        self.energy.observe(records.values())
        rtts = await self.rtts([r for r in records.values() if r.peer_id not in banned])
        return await asyncio.to_thread(
            self.planner.plan, records.values(), model_id, start, end, banned=banned,
            max_length=max_length, rtts_ms=rtts, previous=previous,
            return_to_client=end == num_blocks, manifest_cid=self.manifest_cids.get(model_id),
        )


def swarm_client(initial_peers: list[str], *, chain: Any = None,
                 config: ClientConfig | None = None, energy_config: Any = None) -> SwarmClient:
    """A ``SwarmClient`` for a swarm tied to ``chain`` (``node.chain``'s ``HelioChain``):
    its planner routes only to staked inferers, it checks output commitments under the
    deployed Verification contract's EIP-712 domain, and it trusts an energy claim only if
    signed under the EnergyAttestations domain by the inferer's registered attestation
    key. Without a chain: no stake check, the zero-address domains (what inferers without
    a chain sign with). ``energy_config``: the scheduler's ``SchedulerConfig``."""
    energy = (RecordEnergy.for_chain(chain, energy_config) if chain is not None
              else RecordEnergy(config=energy_config))
    planner = RoutePlanner(is_staked=StakeCache(chain.staking) if chain is not None else None,
                           penalty_ms=energy.penalty)
    client = SwarmClient(initial_peers, config=config, planner=planner, energy=energy)
    if chain is not None:
        client.signer = CommitmentSigner(Domain.of(chain.verification.c))
    return client
