"""Which codec a route's hidden states travel in: what the client asks for (``auto``:
the best the servers agree on) against what each hop's DHT record offers
(``node.engine.codecs.negotiate``). One codec per route: each server pushes its output,
encoded once, straight to the next server, whose session must read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from node.engine.codecs import negotiate
from node.engine.errors import CodecError
from node.referee.planner import Hop
from node.swarm.errors import PeerFailure
from node.swarm.records import ServerRecord

Fetch = Callable[[], Awaitable[dict[str, ServerRecord]]]


def hop_offers(records: dict[str, ServerRecord], hops: Sequence[Hop]) -> list[list[str]]:
    """Each hop's offered codecs; a hop without a record is taken to read ``none`` only."""
    return [list(records[h.peer_id].codecs) if h.peer_id in records else ["none"] for h in hops]


async def route_codec(fetch: Fetch, hops: Sequence[Hop], wanted: str) -> str:
    """The codec for a fresh route over ``hops``. A hop that lacks an explicitly wanted
    codec fails like a dead server (banned, re-planned without it)."""
    offers = hop_offers(await fetch(), hops)
    try:
        return negotiate(wanted, offers)
    except CodecError as exc:
        lacking = next(h for h, offer in zip(hops, offers, strict=True) if wanted not in offer)
        raise PeerFailure(lacking.peer_id, str(exc)) from None


async def check_offers(fetch: Fetch, hops: Sequence[Hop], codec: str) -> None:
    """A replacement hop must read the route's codec (the kept inputs are encoded in it)."""
    for hop, offer in zip(hops, hop_offers(await fetch(), hops), strict=True):
        if codec not in offer:
            raise PeerFailure(hop.peer_id, f"does not offer the route's codec {codec!r} "
                                           f"(it offers {', '.join(offer)})")
