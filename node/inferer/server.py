"""``InfererServer``: the ``helio node serve`` process.

``joining`` (DHT up; blocks chosen) → ``loading`` (span loaded, throughput measured,
stake checked) → ``online`` (announced, serving) → ``draining`` (no new sessions) →
``offline``. It re-announces every ``refresh_s`` (records expire after 2×), measures RTTs
to the servers that follow its span (routers use them), and, if enabled, periodically
checks whether moving its span would help the swarm (Petals' rule, with a margin).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from eth_account import Account
from hivemind.p2p import P2PContext, PeerID
from hivemind.proto import runtime_pb2
from hivemind.utils import get_dht_time

from node.core.cid import cid_of_file
from node.core.errors import ConfigError
from node.core.manifest import MANIFEST_NAME, Manifest
from node.engine.codecs import offered_codecs
from node.engine.host import EngineLimits
from node.engine.span import Span
from node.inferer.config import InfererConfig
from node.inferer.energy import ServerEnergy
from node.inferer.metrics import InfererMetrics, MetricsOptions
from node.inferer.service import SpanService
from node.inferer.staking import hold_stake
from node.inferer.throughput import measure_throughput
from node.models.registry import get_family
from node.swarm.balance import block_throughputs, choose_best_start, should_move
from node.swarm.errors import short_peer
from node.swarm.evidence import CommitmentSigner, default_domain
from node.swarm.peer import Peer, start_peer
from node.swarm.records import ServerRecord, ServerState, sign_record, software_version
from node.swarm.wire import INFERENCE_HANDLER, INFO_HANDLER, PUSH_HANDLER

log = logging.getLogger(__name__)

READY_MARKER = "HELIO_READY"  # printed on stdout once online (LocalSwarm waits for it)
OFFLINE_TTL_S = 10.0  # an `offline` record lingers this long, then expires
PING_TIMEOUT_S = 5.0
# On stop, each announcement (draining, offline) waits at most this: under systemd p2pd
# gets the same SIGTERM and a store through it never completes.
LEAVE_ANNOUNCE_S = 2.0


class InfererServer:
    def __init__(self, config: InfererConfig, metrics: MetricsOptions | None = None) -> None:
        self.config = config
        self.metrics_options = metrics
        self.metrics: InfererMetrics | None = None  # with --metrics-port
        self.manifest = Manifest.load(config.model_dir)
        self.manifest_cid = cid_of_file(config.model_dir / MANIFEST_NAME)  # named in its records
        self.model_id = self.manifest.model_id
        self.address = Account.from_key(config.private_key).address
        self.state = ServerState.JOINING
        self.peer: Peer | None = None
        self.service: SpanService | None = None
        self.blocks: tuple[int, int] | None = None
        self.problem: str | None = None  # announced: e.g. the fetch of a span it meant to move to failed
        self.throughput = 0.0
        self.pings: dict[str, float] = {}
        self.maddrs: list[str] = []
        self.signer = CommitmentSigner(default_domain())
        self.chain: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.energy: ServerEnergy | None = None  # the energy gate, with --energy
        if config.energy is not None:
            self.energy = ServerEnergy(self, config.energy)

    # --- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        if self.metrics_options is not None:  # up first: scrapes see joining and loading too
            self.metrics = InfererMetrics(self)
            self.metrics.serve(self.metrics_options)
        self.peer = await start_peer(self.config.peer)
        log.info("peer %s listening on %s", self.peer.peer_id, ", ".join(await self.peer.maddrs()))
        await self._register_handlers()
        blocks = self.config.blocks or await self._choose_blocks()
        if blocks[1] > self.manifest.num_blocks:
            raise ConfigError(
                f"--blocks {blocks[0]}:{blocks[1]} is past {self.model_id}'s "
                f"{self.manifest.num_blocks} blocks"
            )
        self.blocks = blocks
        self.state = ServerState.LOADING
        await self.announce()
        if self.config.fetch_span is not None and self.config.blocks is None:
            # --manifest-cid with --blocks auto: the chosen span's files over IPFS
            await asyncio.to_thread(self.config.fetch_span, *blocks)
        await self.load_span(*blocks)
        if self.config.chain is not None:
            await asyncio.to_thread(self._stake)
        if self.energy is not None:  # online when the energy controller says so
            if not await self.energy.start(self._stopping):
                return  # a stop came while waiting for energy: shutdown() follows
        else:
            self.state = ServerState.ONLINE
        await self.announce()
        log.info("online: %s blocks %d:%d, %.1f tokens/s through the span, %d tokens of KV cache",
                 self.model_id, *blocks, self.throughput, self.service.free_tokens() if self.service else 0)
        print(f"{READY_MARKER} peer_id={self.peer.peer_id} blocks={blocks[0]}:{blocks[1]}", flush=True)
        self._tasks = [
            asyncio.create_task(self._every(self.config.refresh_s, self.announce)),
            asyncio.create_task(self._every(self.config.ping_period_s, self._ping_next, first=1.0)),
            asyncio.create_task(self._every(self.config.refresh_s, self._log_stats)),
        ]
        if self.config.rebalance_period_s > 0:
            self._tasks.append(asyncio.create_task(self._every(
                self.config.rebalance_period_s, self._maybe_move, jitter=0.5)))

    async def run(self) -> None:
        await self._stopping.wait()

    def stop(self) -> None:
        self._stopping.set()

    async def shutdown(self) -> None:
        """Drain (no new sessions, wait for open ones), announce offline, leave."""
        for task in self._tasks:
            task.cancel()
        if self.energy is not None:  # first: its loop must not load or drain meanwhile
            await self.energy.halt()
        if self.peer is None:
            if self.metrics is not None:
                self.metrics.close()
            return
        try:
            if self.service is not None and self.state == ServerState.ONLINE:
                self.state = ServerState.DRAINING
                await self.safe_announce(timeout=LEAVE_ANNOUNCE_S)
                await self.sessions_ended(self.config.drain_timeout_s)
            self.state = ServerState.OFFLINE
            # Drained: tell the DHT and the chain we leave, both at once.
            leaving = [self.safe_announce(ttl=OFFLINE_TTL_S, timeout=LEAVE_ANNOUNCE_S)]
            if self.energy is not None:
                leaving.append(self.energy.stop())
            await asyncio.gather(*leaving)
            if self.service is not None:
                await self.service.shutdown()
        finally:
            await self.peer.shutdown()
            if self.metrics is not None:
                self.metrics.close()
            log.info("offline")

    async def sessions_ended(self, timeout_s: float) -> None:
        """Wait (draining) until the open sessions end or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while self.service is not None and self.service.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    def open_sessions(self) -> int:
        return len(self.service.sessions) if self.service is not None else 0

    # --- span ---------------------------------------------------------------------------
    @property
    def span_loaded(self) -> bool:
        return self.service is not None

    async def unload_span(self) -> None:
        """Stop serving the span and drop it (its sessions end)."""
        old, self.service = self.service, None
        if old is not None:
            if self.metrics is not None:
                self.metrics.retire(old.stats)
            await old.shutdown()

    async def load_span(self, start: int, end: int) -> None:
        span = await asyncio.to_thread(Span, self.config.model_dir, start, end, quant=self.config.quant,
                                       device=self.config.device)
        limits = EngineLimits(
            max_length=self.config.cache_tokens,
            max_chunk_tokens=self.config.max_chunk_tokens,
            memory_budget_bytes=span.kv_bytes(self.config.cache_tokens),
        )
        assert self.peer is not None
        service = SpanService(
            p2p=self.peer.p2p, model_dir=self.config.model_dir, span=span, limits=limits,
            private_key=self.config.private_key, signer=self.signer,
            push_timeout_s=self.config.push_timeout_s,
            accepting=self._accepting, caps=self.config.caps(),
        )
        service.info = lambda: {"record": self.record().model_dump(mode="json")}
        if self.metrics is not None:
            service.on_step = self.metrics.on_step
        if self.config.throughput_override is not None:
            self.throughput = self.config.throughput_override
        elif self.config.measure_throughput:
            self.throughput = await asyncio.to_thread(measure_throughput, service.main_host)
        self.service = service

    def _accepting(self) -> bool:
        """New sessions only while online and under the energy capacity (if gated)."""
        return self.state == ServerState.ONLINE and (self.energy is None or self.energy.has_room())

    async def _register_handlers(self) -> None:
        # Registered once; they reach whichever span service is current (moves swap it).
        assert self.peer is not None

        def inference(requests: AsyncIterator[Any], context: P2PContext) -> AsyncIterator[Any]:
            return self._current().rpc_inference(requests, context)

        def push(requests: AsyncIterator[Any], context: P2PContext) -> AsyncIterator[Any]:
            return self._current().rpc_push(requests, context)

        async def info(request: Any, context: P2PContext) -> Any:
            if self.service is None:
                return runtime_pb2.ExpertResponse(metadata=b'{"sessions": 0}')
            return await self.service.rpc_info(request, context)

        p2p = self.peer.p2p
        await p2p.add_protobuf_handler(INFERENCE_HANDLER, inference, runtime_pb2.ExpertRequest,
                                       stream_input=True, stream_output=True)
        await p2p.add_protobuf_handler(PUSH_HANDLER, push, runtime_pb2.ExpertRequest,
                                       stream_input=True, stream_output=True)
        await p2p.add_protobuf_handler(INFO_HANDLER, info, runtime_pb2.ExpertRequest)

    def _current(self) -> SpanService:
        if self.service is None:
            raise ConfigError("this server is still loading its span; retry shortly")
        return self.service

    async def _choose_blocks(self) -> tuple[int, int]:
        total = self.manifest.num_blocks
        length = min(self.config.num_blocks or -(-total // 3), total)
        assert self.peer is not None
        records = (await self.peer.dht.fetch(self.model_id, total)).values()
        start = choose_best_start(block_throughputs(records, total), length)
        log.info("chose blocks %d:%d (the weakest %d-block window of the swarm)", start,
                 start + length, length)
        return start, start + length

    async def _maybe_move(self) -> None:
        if self.state != ServerState.ONLINE or self.blocks is None or self.peer is None:
            return
        total = self.manifest.num_blocks
        records = await self.peer.dht.fetch(self.model_id, total)
        start = should_move(records.values(), self.record(), total, self.config.balance_margin)
        if start is None:
            return
        length = self.blocks[1] - self.blocks[0]
        log.info("moving from blocks %d:%d to %d:%d: the swarm's bottleneck improves by more "
                 "than %.0f %%", *self.blocks, start, start + length, self.config.balance_margin * 100)
        if not await self._fetched_for_move(start, start + length):
            return  # still serving the old span; the record says why it did not move
        self.state = ServerState.DRAINING
        await self.announce()
        assert self.service is not None
        await self.sessions_ended(self.config.drain_timeout_s)
        await self.unload_span()
        self.blocks = (start, start + length)
        self.state = ServerState.LOADING
        await self.announce()
        await self.load_span(*self.blocks)
        self.state = ServerState.ONLINE
        await self.announce()
        log.info("online again: blocks %d:%d", *self.blocks)

    async def _fetched_for_move(self, start: int, end: int) -> bool:
        """Fetch the new span's files before the old span is released: a failed fetch
        leaves it serving what it has, with the failure announced in its record."""
        if self.config.fetch_span is None:
            return True
        try:
            await asyncio.to_thread(self.config.fetch_span, start, end)
        except Exception as exc:  # an IPFS or integrity error: stay, say why
            self.problem = f"could not fetch blocks {start}:{end} to move there: {exc}"[:300]
            log.warning("%s; still serving blocks %s", self.problem, self.blocks)
            await self.announce()
            return False
        self.problem = None
        return True

    # --- chain ------------------------------------------------------------------------------
    def _stake(self) -> None:
        from node.chain.bindings import HelioChain
        from node.chain.connect import connect, local_account
        from node.crypto.eip712 import Domain

        chain_config = self.config.chain
        assert chain_config is not None and self.peer is not None and self.blocks is not None
        w3 = connect(chain_config.rpc_url)
        account = local_account(self.config.private_key)
        if chain_config.deployments_dir is not None:
            chain = HelioChain.open(w3, chain_config.network, account, chain_config.deployments_dir)
        else:
            chain = HelioChain.open(w3, chain_config.network, account)
        capacity = int(self.throughput * (self.blocks[1] - self.blocks[0]) / self.manifest.num_blocks)
        done = hold_stake(  # bonds only what it was told to (--stake): never re-bonds by itself
            chain.staking, peer_id=self.peer.peer_id, attestation_key=self.address,
            region=chain_config.region, capacity=max(capacity, 1), stake_wei=chain_config.stake_wei,
        )
        log.info("stake: %s (%s, active=%s)", ", ".join(done) or "already registered and staked",
                 self.address, chain.staking.is_active(self.address))
        # Commitments are signed under the deployed Verification contract's domain.
        self.signer = CommitmentSigner(Domain.of(chain.verification.c))
        if self.service is not None:
            self.service.signer = self.signer
        self.chain = chain
        if self.energy is not None:  # energy reports: the contract's domain, posted on-chain
            from node.chain.connect import transact

            self.energy.use_chain(chain, lambda call: transact(w3, account, call))

    # --- announcements ------------------------------------------------------------------
    def record(self) -> ServerRecord:
        assert self.peer is not None
        start, end = self.blocks or (0, 1)
        service = self.service
        return ServerRecord(
            peer_id=self.peer.peer_id, address=self.address, model_id=self.model_id,
            state=self.state, start=start, end=end, throughput=round(self.throughput, 3),
            cache_tokens_left=service.free_tokens() if service else 0,
            sessions=len(service.sessions) if service else 0, dtype=self.manifest.dtype,
            quantization=self.config.quant or "none",
            codecs=offered_codecs(get_family(self.manifest.family).wire_codec, self.config.wire_codec),
            software_version=software_version(), relayed=self.config.relayed,
            region=self.config.region, pings=dict(list(self.pings.items())[:32]),
            maddrs=self.maddrs[:8],
            energy=self.energy.payload() if self.energy is not None else None,
            manifest_cid=self.manifest_cid, problem=self.problem, timestamp=get_dht_time(),
        )

    async def announce(self, ttl: float | None = None) -> None:
        if self.peer is None or self.blocks is None:
            return
        with contextlib.suppress(Exception):  # a relay reservation adds circuit addresses
            self.maddrs = await self.peer.maddrs()
        value = sign_record(self.record(), self.config.private_key)
        ok = await self.peer.dht.announce(self.model_id, range(*self.blocks), self.peer.peer_id,
                                          value, ttl or 2 * self.config.refresh_s)
        if not ok:
            log.warning("some DHT stores failed; retrying at the next refresh")

    async def safe_announce(self, ttl: float | None = None, timeout: float = 5.0) -> None:
        if self.peer is not None and not self.peer.daemon_alive:
            return  # p2pd is gone (stopped with us): nothing can be announced
        try:
            await asyncio.wait_for(self.announce(ttl), timeout)
        except Exception as exc:  # leaving must not hang on a dead DHT
            log.warning("could not announce %s: %s", self.state.value, exc)

    async def _ping_next(self) -> None:
        """RTT to every server whose span starts where ours ends (the next hop candidates)."""
        if self.peer is None or self.blocks is None:
            return
        records = await self.peer.dht.fetch(self.model_id, self.manifest.num_blocks)
        after = [r for r in records.values()
                 if r.peer_id != self.peer.peer_id and r.start <= self.blocks[1] < r.end]
        pings: dict[str, float] = {}
        for record in after[:32]:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(self.peer.p2p.call_protobuf_handler(
                    PeerID.from_base58(record.peer_id), INFO_HANDLER,
                    runtime_pb2.ExpertRequest(), runtime_pb2.ExpertResponse), PING_TIMEOUT_S)
            except Exception:
                continue
            pings[record.peer_id] = round((time.perf_counter() - started) * 1e3, 3)
        self.pings = pings

    async def _log_stats(self) -> None:
        if self.peer is None or self.service is None:
            return
        stats = self.service.stats
        peers = len(await self.peer.p2p.list_peers())
        rate = stats.tokens / stats.compute_s if stats.compute_s else 0.0
        log.info("%s blocks %d:%d | %d peers | %d sessions open, %d opened | %d steps, %d tokens, "
                 "%.1f tokens/s while computing | %d pushes (%d failed) | %d errors",
                 self.state.value, *(self.blocks or (0, 0)), peers, len(self.service.sessions),
                 stats.opened, stats.steps, stats.tokens, rate, stats.pushes,
                 stats.push_failures, stats.errors)

    async def _every(self, period: float, action: Any, first: float | None = None,
                     jitter: float = 0.1) -> None:
        await asyncio.sleep(period if first is None else first)
        while True:
            try:
                await action()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", getattr(action, "__name__", action))
            await asyncio.sleep(period * random.uniform(1 - jitter, 1 + jitter))


async def serve(config: InfererConfig, metrics: MetricsOptions | None = None) -> None:
    """Run an inferer until SIGINT/SIGTERM; drain and leave cleanly. ``metrics``: serve
    Prometheus metrics over HTTP (``node.inferer.metrics``)."""
    import signal

    server = InfererServer(config, metrics)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, server.stop)
    try:
        # A stop while joining, loading or staking ends the start at once (it is
        # cancelled); waiting for energy ends by itself (ServerEnergy.start).
        if await _unless_stopped(server.start(), server._stopping):
            await server.run()
    finally:
        await server.shutdown()
        sys.stdout.flush()


async def _unless_stopped(coro: Any, stopping: asyncio.Event) -> bool:
    """Run ``coro`` unless ``stopping`` is set first (then cancel it); True if it finished."""
    task = asyncio.ensure_future(coro)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        log.info("stop requested while starting: leaving")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()  # start's own error, if any
    return True


__all__ = ["READY_MARKER", "InfererServer", "serve", "short_peer"]
