"""``helio node serve --follow-registry``: the glue between the CLI and ``Follower``
(node/inferer/follow.py): the chain, a read-only DHT peer, an IPFS node for manifests,
and SIGTERM/SIGINT turned into a clean stop (the current child drains first)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from node.core.errors import ConfigError

log = logging.getLogger(__name__)


def follow_registry(*, address: str, rpc_url: str | None, network: str,
                    deployments_dir: Path | None, peers: list[str], ipfs_peers: list[str],
                    max_blocks: int | None, period_s: float) -> None:
    if not rpc_url:
        raise ConfigError("--follow-registry reads ModelRegistry: give --rpc-url (or HELIO_RPC_URL)")
    from node.chain.bindings import HelioChain
    from node.chain.connect import connect
    from node.chain.deployment import Deployment
    from node.core.settings import Settings
    from node.inferer.follow import FollowConfig, Follower, child_args, fixed_ports
    from node.ipfs import open_store
    from node.swarm.peer import LoopThread, PeerConfig, start_peer

    deployment = (Deployment.load(network, deployments_dir) if deployments_dir
                  else Deployment.load(network))
    w3 = connect(rpc_url, expected_chain_id=deployment.chain_id)
    deployment.check_against(w3)
    models = HelioChain(w3, deployment).models
    cache_dir = Settings().cache_dir
    argv = sys.argv[sys.argv.index("serve") + 1:] if "serve" in sys.argv else []
    config = FollowConfig(address=address, serve_args=child_args(argv), cache_dir=cache_dir,
                          ipfs_peers=ipfs_peers, period_s=period_s, max_blocks=max_blocks,
                          release_first=fixed_ports(argv))
    loop = LoopThread("heliomesh-follower")
    peer = loop.run(start_peer(PeerConfig(initial_peers=peers, client_mode=True)), 120)
    store = open_store("embedded", data_dir=cache_dir / "ipfs-follower", peering=ipfs_peers)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: draining the current inferer, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        Follower(config, models, lambda m, n: loop.run(peer.dht.fetch(m, n), 60), store).run(stop)
    finally:
        store.close()
        loop.run(peer.shutdown(), 30)
        loop.stop()
