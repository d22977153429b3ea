"""``helio bootstrap``: a DHT bootstrap peer (and libp2p relay) for a swarm."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

import typer

from node.cli.swarm_common import (
    Host,
    InitialPeers,
    Port,
    initial_peers,
    quiet_hivemind,
    watch_parent,
)

if TYPE_CHECKING:
    from node.swarm.peer import PeerConfig

log = logging.getLogger("helio.bootstrap")

AlsoListen = typer.Option(
    [], "--also-listen",
    help="another address to listen on (repeat), e.g. the relay side of a test namespace",
)
BOOTSTRAP_MARKER = "HELIO_BOOTSTRAP"  # one stdout line per multiaddr (LocalSwarm reads it)
STATS_PERIOD_S = 60.0


def bootstrap(
    host: str = Host,
    port: int = Port,
    peers: list[str] = InitialPeers,
    identity: str = typer.Option(None, "--identity", help="key file: keeps the peer id (and multiaddr) across restarts"),
    also_listen: list[str] = AlsoListen,
) -> None:
    """Run a DHT bootstrap peer; prints its multiaddrs: give one to every inferer and client."""
    quiet_hivemind()
    watch_parent()
    from node.swarm.peer import PeerConfig, run

    run(_run(PeerConfig(host=host, port=port, initial_peers=initial_peers(peers),
                        identity_path=identity, extra_hosts=also_listen,
                        relay_service=True)))


async def _run(config: PeerConfig) -> None:
    from node.swarm.peer import start_peer

    peer = await start_peer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        for maddr in await peer.maddrs():
            print(f"{BOOTSTRAP_MARKER} {maddr}", flush=True)
        log.info("bootstrap peer %s up; pass --initial-peers %s", peer.peer_id, (await peer.maddrs())[0])
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_PERIOD_S)
            if not stop.is_set():
                log.info("%d peers connected", len(await peer.p2p.list_peers()))
    finally:
        await peer.shutdown()
