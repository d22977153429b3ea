"""Relays for servers that others cannot dial (behind NAT): libp2p circuit relay v2 as
hivemind 1.1.12's ``p2pd`` (go-libp2p 0.32.1) does it, plus three fixes found in that
daemon's behaviour:

1. **Static relays.** With ``-autoRelay`` and its default ``-relayDiscovery=1``, go-libp2p's
   autorelay waits for 4 relay candidates or a 3-minute boot delay before it reserves a
   slot; hivemind's ``P2P.create`` cannot turn discovery off (its ``use_relay_discovery``
   is ignored). ``relay_p2p_class()`` adds ``-relayDiscovery=0``, so the relays given in
   ``-trustedRelays`` are static relays and the reservation is made within milliseconds
   of the daemon's start. Static relays must be distinct peers (two addresses of one
   peer count as two candidates of which only one can ever be found, and the finder
   waits the boot delay again): ``pick_relays`` keeps one reachable address per peer.
2. **Circuit addresses.** go-libp2p advertises ``<relay>/p2p-circuit`` only over the
   relay's *public* addresses; a relay on a private network (a LAN, a test namespace)
   gets a reservation but no advertised address. ``circuit_maddrs`` builds them from the
   relays we reserved on (and keeps any the daemon advertises itself).
3. **Dialing them.** hivemind's multiaddr codec writes ``/p2p/<id>`` as a CIDv1 in binary,
   which the daemon's control protocol rejects ("length greater than remaining number of
   bytes in buffer"); ``daemon_maddr`` writes the raw multihash instead, so circuit
   addresses can be handed to the daemon's ``connect``.

4. **The relay's limits.** ``p2pd`` registers two relay services for the same protocol:
   the configured one (``-relayDataLimit`` 4 GiB, ``-relayTimeLimit`` 30 min per relayed
   connection), started when the daemon learns it is public, and a second one with
   go-libp2p's defaults (``EnableRelayV2`` → ``relay.New(host)``: 128 KiB each way, 2 min)
   right after start. Whichever registers last serves; with the reachability forced public
   that is a race (3 of 6 starts gave the 128 KiB relay, enough for about 50 tokens of
   hidden states). ``relay_carries`` checks a started relay with two throwaway daemons
   (one holding a slot, one sending 256 KiB through a circuit), and ``start_peer`` starts
   a relay's daemon again until the check passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any, cast

import base58
from hivemind.p2p import P2P
from hivemind.proto import runtime_pb2
from hivemind.utils.multiaddr import Multiaddr

log = logging.getLogger(__name__)

P2P_CODE = 0x01A5  # multicodec of /p2p/
CIRCUIT = "/p2p-circuit"
RELAY_PROBE_TIMEOUT_S = 1.0
RELAY_CHECK_BYTES = 256 * 1024  # twice the 128 KiB default limit of a relayed connection
RELAY_CHECK_TIMEOUT_S = 20.0
_CHECK_HANDLER = "heliomesh.relay_check"
_P2P_PART = re.compile(r"(/p2p/[^/]+)")
_TCP = re.compile(r"^/(ip4|ip6|dns|dns4|dns6)/([^/]+)/tcp/(\d+)")


def relay_p2p_class(static_relays: bool) -> type[P2P]:
    """hivemind's ``P2P``, or a subclass whose daemon uses the trusted relays as static
    relays (``-relayDiscovery=0``) instead of waiting to discover more."""
    if not static_relays:
        return cast("type[P2P]", P2P)  # hivemind is untyped: P2P is Any to mypy

    class StaticRelayP2P(P2P):  # type: ignore[misc]  # subclassing hivemind's untyped P2P
        @staticmethod
        def _make_process_args(*args: Any, **kwargs: Any) -> list[str]:
            if kwargs.get("trustedRelays"):  # not for hivemind's own helper daemons
                kwargs["relayDiscovery"] = False
            return cast(list[str], P2P._make_process_args(*args, **kwargs))

    return StaticRelayP2P


def peer_of(maddr: str) -> str:
    """The last ``/p2p/<id>`` of a multiaddr ('' if none)."""
    parts = _P2P_PART.findall(maddr)
    return parts[-1].removeprefix("/p2p/") if parts else ""


async def pick_relays(maddrs: list[str], timeout: float = RELAY_PROBE_TIMEOUT_S) -> list[str]:
    """One address per relay peer: the first that accepts a TCP connection now (the
    daemon gives up on a static relay for an hour after one failed dial), else the first."""
    by_peer: dict[str, list[str]] = {}
    for maddr in maddrs:
        by_peer.setdefault(peer_of(maddr), []).append(maddr)
    picked = []
    for candidates in by_peer.values():
        reachable = await asyncio.gather(*(_accepts_tcp(m, timeout) for m in candidates))
        picked.append(next((m for m, ok in zip(candidates, reachable, strict=True) if ok), candidates[0]))
    return picked


async def _accepts_tcp(maddr: str, timeout: float) -> bool:
    match = _TCP.match(maddr)
    if match is None:
        return False
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(match[2], int(match[3])), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def circuit_maddrs(relays: list[str], peer_id: str, visible: list[str]) -> list[str]:
    """Where others dial a relayed peer: ``<relay>/p2p-circuit/p2p/<peer_id>`` for every
    relay it reserved on, then the circuit addresses its daemon advertises itself."""
    suffix = f"{CIRCUIT}/p2p/{peer_id}"
    out = [f"{relay}{suffix}" for relay in relays if peer_of(relay)]
    for maddr in visible:
        if CIRCUIT in maddr and maddr not in out:
            out.append(maddr)
    return out


def daemon_maddr(text: str) -> Multiaddr:
    """A multiaddr as the daemon's control protocol reads it: ``/p2p/<id>`` parts as raw
    multihashes (hivemind's codec writes CIDv1 bytes there, which the daemon rejects)."""
    out = bytearray()
    for part in _P2P_PART.split(text):
        if not part:
            continue
        if part.startswith("/p2p/"):
            multihash = base58.b58decode(part.removeprefix("/p2p/"))
            out += _varint(P2P_CODE) + _varint(len(multihash)) + multihash
        else:
            out += Multiaddr(part).to_bytes()
    return Multiaddr(bytes(out))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


async def relay_carries(relay: str, nbytes: int = RELAY_CHECK_BYTES,
                        timeout: float = RELAY_CHECK_TIMEOUT_S) -> bool:
    """Whether the relay at ``relay`` (a multiaddr with its ``/p2p/`` id, reachable from
    here) carries ``nbytes`` through one relayed connection: a daemon with no listen
    address (reachable only through the relay) holds a slot, another sends it ``nbytes``."""
    options: dict[str, Any] = dict(initial_peers=[relay], no_listen=True, host_maddrs=[], auto_nat=False,
                                   nat_port_map=False, idle_timeout=0, dht_mode="client")
    daemons: list[P2P] = []
    try:
        async with asyncio.timeout(timeout):
            target = await relay_p2p_class(True).create(**options, use_auto_relay=True, trusted_relays=[relay],
                                                        force_reachability="private")
            daemons.append(target)
            sender = await P2P.create(**options)
            daemons.append(sender)

            async def answer(request: runtime_pb2.ExpertRequest, _: Any) -> runtime_pb2.ExpertResponse:
                return runtime_pb2.ExpertResponse(metadata=str(len(request.metadata)).encode())

            await target.add_protobuf_handler(_CHECK_HANDLER, answer, runtime_pb2.ExpertRequest)
            while True:  # the slot is reserved within milliseconds of the target's start
                try:
                    await sender._client.connect(target.peer_id, [daemon_maddr(f"{relay}{CIRCUIT}")])
                    break
                except Exception:
                    await asyncio.sleep(0.05)
            reply = await sender.call_protobuf_handler(
                target.peer_id, _CHECK_HANDLER, runtime_pb2.ExpertRequest(metadata=b"x" * nbytes),
                runtime_pb2.ExpertResponse)
            return bool(reply.metadata == str(nbytes).encode())  # bytes == bytes: bool() is for mypy
    except Exception as exc:  # a reset stream (the relay's limit), a timeout, a failed start
        log.debug("relay check through %s: %s", relay, exc)
        return False
    finally:
        for daemon in reversed(daemons):
            with contextlib.suppress(Exception):
                await daemon.shutdown()
