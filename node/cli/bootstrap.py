"""``helio bootstrap``: a DHT bootstrap peer (and libp2p relay) for a swarm."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

import typer

from node.cli.process_exit import exit_now
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
    exit_now()  # stopped cleanly: skip the interpreter's seconds-long finalization


async def _run(config: PeerConfig) -> None:
    """Serve until SIGINT/SIGTERM, which are honoured from the first moment (also while
    the daemon starts); leaving has a deadline (``Peer.shutdown``) so a stop of the whole
    process group (systemd's default), which kills p2pd beside us, exits promptly."""
    from node.swarm.peer import start_peer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    starting = asyncio.ensure_future(start_peer(config))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not starting.done():
        log.info("stop requested while starting; leaving")
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return
    peer = starting.result()
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
        log.info("bootstrap peer stopped")
