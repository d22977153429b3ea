"""Joining the swarm: one libp2p peer (hivemind ``P2P``, a ``p2pd`` child process) with a
hivemind ``DHTNode`` on it, and a background event loop for synchronous callers.

Every role uses ``start_peer``: the bootstrap and inferers as full DHT nodes, clients in
DHT client mode (they read records, store nothing, accept no DHT requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hivemind.dht.node import DHTNode
from hivemind.p2p import P2P, P2PDaemonError, PeerID
from hivemind.utils.multiaddr import Multiaddr

from node.core.errors import ConfigError
from node.swarm.dht import SwarmDHT
from node.swarm.errors import SwarmError
from node.swarm.relay import (
    circuit_maddrs,
    daemon_maddr,
    pick_relays,
    relay_carries,
    relay_p2p_class,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

P2P_STARTUP_TIMEOUT_S = 30.0  # p2pd must print its peer id within this (busy machines are slow)
DHT_WAIT_TIMEOUT_S = 5.0  # one DHT RPC to an unresponsive peer
RELAY_START_ATTEMPTS = 12  # starts of a relay's daemon until its relay passes the check
BOOTSTRAP_ATTEMPTS = 3  # daemon starts while no initial peer answers (2 s, then 4 s apart)
SHUTDOWN_STEP_S = 3.0  # leaving the DHT, stopping p2pd: each at most this long


@dataclass
class PeerConfig:
    host: str = "127.0.0.1"  # listen address; loopback by default
    port: int = 0  # 0 = any free port
    extra_hosts: list[str] = field(default_factory=list)  # also listen here (e.g. a veth address)
    initial_peers: list[str] = field(default_factory=list)  # bootstrap multiaddrs
    announce: list[str] = field(default_factory=list)  # what others dial, if not host:port
    client_mode: bool = False  # read the DHT only (clients, `helio status`)
    # Behind NAT: reserve a slot on a relay (static relays: the trusted ones, else the
    # initial peers), be a DHT client, and announce only relay circuit addresses.
    use_auto_relay: bool = False
    relay_service: bool = False  # offer relay slots to others (the bootstrap does)
    trusted_relays: list[str] = field(default_factory=list)  # relays to use (default: initial peers)
    identity_path: str | None = None  # keeps the peer id across restarts

    def __post_init__(self) -> None:
        for maddr in [*self.initial_peers, *self.announce, *self.trusted_relays]:
            try:
                Multiaddr(maddr)
            except Exception:
                raise ConfigError(
                    f"{maddr!r} is not a multiaddr; expected e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…"
                ) from None
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is out of range")


@dataclass
class Peer:
    p2p: P2P
    node: DHTNode
    dht: SwarmDHT
    relays: list[str] = field(default_factory=list)  # relays we hold a slot on (relayed peers)

    @property
    def peer_id(self) -> str:
        return str(self.p2p.peer_id)

    async def maddrs(self) -> list[str]:
        """Where others dial us; a relayed peer: only its relay circuit addresses (its own
        listen addresses cannot be reached from outside)."""
        visible = [str(m) for m in await self.p2p.get_visible_maddrs(latest=True)]
        return circuit_maddrs(self.relays, self.peer_id, visible) if self.relays else visible

    async def connect(self, peer_id: str, maddrs: list[str], timeout: float = 5.0) -> bool:
        return await connect(self.p2p, peer_id, maddrs, timeout)

    @property
    def daemon_alive(self) -> bool:
        """False once p2pd exited: e.g. it got the same SIGTERM as we did (systemd stops
        the whole process group), so nothing sent through it can arrive any more."""
        child = getattr(self.p2p, "_child", None)  # hivemind keeps the daemon process here
        return child is None or child.returncode is None

    async def shutdown(self) -> None:
        """Leave the DHT, then stop p2pd; each step at most ``SHUTDOWN_STEP_S`` (a daemon
        that got the same SIGTERM as we did never answers again: then skip the first)."""
        try:
            if self.daemon_alive:
                await asyncio.wait_for(self.node.shutdown(), SHUTDOWN_STEP_S)
        except TimeoutError:
            log.warning("the DHT did not close within %.0f s (p2pd gone?); stopping p2pd", SHUTDOWN_STEP_S)
        except (OSError, P2PDaemonError) as exc:  # the daemon died first (same signal)
            log.warning("the DHT did not close cleanly (%s: %s); stopping p2pd", type(exc).__name__, exc)
        finally:
            try:
                await asyncio.wait_for(self.p2p.shutdown(), SHUTDOWN_STEP_S)
            except TimeoutError:
                log.warning("p2pd did not exit within %.0f s; leaving it", SHUTDOWN_STEP_S)


async def connect(p2p: P2P, peer_id: str, maddrs: list[str], timeout: float = 5.0) -> bool:
    """Tell our daemon where ``peer_id`` is and connect (a relayed peer is reachable only
    at its circuit address, which only its record says). False if that failed; the
    caller's own call to the peer then reports why."""
    if not maddrs:
        return False
    try:
        # hivemind 1.1.12's P2P has no public connect(); its daemon client does.
        suffix = f"/p2p/{peer_id}"  # the daemon wants addresses without the peer's own id
        addrs = [daemon_maddr(m.removesuffix(suffix)) for m in maddrs]
        await asyncio.wait_for(p2p._client.connect(PeerID.from_base58(peer_id), addrs), timeout)
    except Exception as exc:
        log.debug("connect to %s via %s failed: %s", peer_id, maddrs, exc)
        return False
    return True


async def start_peer(config: PeerConfig) -> Peer:
    """Start the daemon and the DHT node. A relay (``relay_service``) is checked to carry
    more than go-libp2p's 128 KiB default per relayed connection, and started again if not
    (see node/swarm/relay.py: p2pd races two relay services)."""
    if not config.relay_service:
        return await _start_peer(config)
    for attempt in range(1, RELAY_START_ATTEMPTS + 1):
        with _one_go_thread():
            peer = await _start_peer(config)
        maddrs = await peer.maddrs()
        local = [m for m in maddrs if m.startswith("/ip4/127.")] or maddrs
        if await relay_carries(local[0]):
            log.info("relay checked (start %d): relayed connections carry more than 128 KiB", attempt)
            return peer
        if attempt == RELAY_START_ATTEMPTS:
            log.error("relay still limited to 128 KiB per relayed connection after %d starts; "
                      "relayed servers will fail on long sessions", attempt)
            return peer
        log.info("relay start %d got p2pd's default-limits relay (128 KiB); starting it again", attempt)
        await peer.shutdown()
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _one_go_thread() -> Iterator[None]:
    """GOMAXPROCS=1 for a relay's daemon (unless set by the user): then its full relay
    wins p2pd's race in about 11 of 12 starts instead of 2 to 7 (measured on 2 cores).
    One core of Go copies relayed bytes at hundreds of MB/s."""
    if "GOMAXPROCS" in os.environ:
        yield
        return
    os.environ["GOMAXPROCS"] = "1"  # read once, when hivemind starts the daemon
    try:
        yield
    finally:
        os.environ.pop("GOMAXPROCS", None)


async def _start_peer(config: PeerConfig) -> Peer:
    hosts = [config.host, *config.extra_hosts]
    relays: list[str] = []
    if config.use_auto_relay:
        relays = await pick_relays(config.trusted_relays or config.initial_peers)
        if not relays:
            raise ConfigError("--auto-relay needs a relay: pass --initial-peers (bootstrap peers relay)")
    # p2pd exits when it reaches none of its initial peers; seen once (CI, 2 loaded cores)
    # for a daemon in a test namespace whose bootstrap answered a moment later: try again.
    for attempt in range(1, BOOTSTRAP_ATTEMPTS + 1):
        try:
            p2p = await _create_p2p(config, hosts, relays)
            break
        except P2PDaemonError as exc:
            if "bootstrap peers" not in str(exc):
                raise
            if attempt == BOOTSTRAP_ATTEMPTS:
                raise SwarmError(
                    f"could not reach any initial peer ({', '.join(config.initial_peers)}) in {attempt} tries; "
                    "check --initial-peers (what `helio bootstrap` printed) and that it runs"
                ) from None
            log.warning("could not reach the initial peers (try %d of %d); again in %d s",
                        attempt, BOOTSTRAP_ATTEMPTS, 2 * attempt)
            await asyncio.sleep(2 * attempt)
    try:
        node = await DHTNode.create(
            p2p=p2p,
            initial_peers=config.initial_peers or None,
            # Nobody can dial a relayed peer for DHT requests; it stores and reads as a client.
            client_mode=config.client_mode or config.use_auto_relay,
            wait_timeout=DHT_WAIT_TIMEOUT_S,
            num_workers=8,
            # No local cache: a lookup always asks the peers holding the key, so a new
            # server is seen at once and a dead one as soon as its record expires.
            cache_locally=False,
            cache_nearest=0,
        )
    except BaseException:
        await p2p.shutdown()
        raise
    return Peer(p2p, node, SwarmDHT(node), relays)


async def _create_p2p(config: PeerConfig, hosts: list[str], relays: list[str]) -> P2P:
    return await relay_p2p_class(bool(relays)).create(
        initial_peers=config.initial_peers or None,
        host_maddrs=[f"/{'ip6' if ':' in h else 'ip4'}/{h}/tcp/{config.port}" for h in hosts],
        announce_maddrs=config.announce or None,
        auto_nat=False,
        nat_port_map=False,
        use_auto_relay=config.use_auto_relay,
        # libp2p serves relay slots only when it believes it is public, and looks for a
        # relay only when it believes it is private; without AutoNAT we say which.
        force_reachability="private" if config.use_auto_relay else (
            "public" if config.relay_service else None),
        trusted_relays=relays or None,
        identity_path=config.identity_path,
        startup_timeout=P2P_STARTUP_TIMEOUT_S,
        idle_timeout=0,  # the daemon lives exactly as long as we do
    )


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop (hivemind's own dependency): a message through the swarm crosses several
    event-loop hops per server, and uvloop makes each of them cheaper."""
    import uvloop

    return uvloop.new_event_loop()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop: the main loop of ``helio node serve`` and ``bootstrap``."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coro)


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LoopThread:
    """An asyncio loop in a daemon thread; ``run(coro)`` waits for a result from sync code."""

    def __init__(self, name: str = "heliomesh-swarm") -> None:
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.run called from its own loop; await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):  # cancel leftovers (DHT refreshers) quietly
            asyncio.run_coroutine_threadsafe(_cancel_others(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
