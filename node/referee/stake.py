"""Stake checks, cached: the route planner routes only to inferers whose Ethereum key has
active stake in StakingRegistry *and* registered the peer id the record comes from (so
nobody can borrow a staked address for a peer it does not control); the gateway raises
the free tier's limits for staked contributors (``is_active``: stake alone).

Answers are cached for ``ttl_s`` (per (address, peer id), per address); a chain that
cannot be reached counts as "not staked" (fail closed) and is logged. A jailing is the one
change that takes effect at once on chain (a fraud slash), so the cache also reads the
StakingRegistry's ``Jailed`` events, at most every ``jail_poll_s``, and forgets every
answer when someone was jailed: a router stops using a slashed inferer within seconds,
not a TTL later.

``StaticStakes`` answers ``is_active`` from a fixed set instead (no StakingRegistry
deployed; tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from eth_utils.address import to_checksum_address

from node.referee.ttl import TtlMemo
from node.swarm.records import ServerRecord

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0  # stake changes take an unbonding delay; a minute of staleness is fine
JAIL_POLL_S = 2.0  # how often Jailed events are read (one eth_getLogs), on the planner's path


class ActiveStakes(Protocol):
    """Who has active stake: ``StakeCache`` (the chain) or ``StaticStakes`` (a fixed set)."""

    def is_active(self, address: str) -> bool: ...

    def describe(self) -> str: ...


class StakeCache:
    """``is_staked(record)`` for ``RoutePlanner`` (called as ``cache(record)``) and
    ``is_active(address)``, backed by ``node.chain``'s ``Staking``."""

    def __init__(self, staking: Any, ttl_s: float = DEFAULT_TTL_S,
                 jail_poll_s: float = JAIL_POLL_S) -> None:
        self.staking = staking  # node.chain.bindings.Staking (is_active, node_of, jailed_since)
        self.jail_poll_s = jail_poll_s
        self._answers: TtlMemo[tuple[str, str], bool] = TtlMemo(ttl_s)
        self._active: TtlMemo[str, bool] = TtlMemo(ttl_s)
        self._jail_block: int | None = None  # the next block whose Jailed events to read
        self._jail_polled = float("-inf")
        self._jail_lock = threading.Lock()

    def __call__(self, record: ServerRecord) -> bool:
        self._forget_jailed()
        return self._answers.get((record.address, record.peer_id), lambda: self._ask(record))

    def is_active(self, address: str) -> bool:
        """Has ``address`` active stake (whatever peer it registered)?"""
        self._forget_jailed()
        address = to_checksum_address(address)
        return self._active.get(address, lambda: self._ask_active(address))

    def _forget_jailed(self) -> None:
        """Forget every answer when an inferer was jailed since the last look (at most one
        look per ``jail_poll_s``). A look that fails forgets too and watches again from the
        next block: every answer is asked anew (or fails closed), so nothing older matters."""
        jailed_since = getattr(self.staking, "jailed_since", None)
        if jailed_since is None or not self._jail_lock.acquire(blocking=False):
            return  # no event source (a plain fake), or another thread is looking now
        try:
            now = time.monotonic()
            if now - self._jail_polled < self.jail_poll_s:
                return
            self._jail_polled = now
            try:
                jailed, self._jail_block = jailed_since(self._jail_block)
                if not jailed:
                    return
                log.info("jailed on chain: %s; stake answers forgotten", ", ".join(jailed))
            except Exception as exc:
                self._jail_block = None
                log.warning("reading Jailed events failed (%s): stake answers forgotten", exc)
            self._answers.forget()
            self._active.forget()
        finally:
            self._jail_lock.release()

    def describe(self) -> str:
        return "StakingRegistry"

    def _ask_active(self, address: str) -> bool:
        try:
            return bool(self.staking.is_active(address))
        except Exception as exc:  # an unreachable chain must not vouch for anyone
            log.warning("stake check for %s failed (%s): counted as not staked", address, exc)
            return False

    def _ask(self, record: ServerRecord) -> bool:
        try:
            if not self.staking.is_active(record.address):
                log.info("not routing to %s: %s has no active stake", record.peer_id[-8:], record.address)
                return False
            registered = self.staking.node_of(record.address).peer_id
        except Exception as exc:  # an unreachable chain must not make anyone routable
            log.warning("stake check for %s failed (%s): not routing to it", record.address, exc)
            return False
        if registered != record.peer_id:
            log.info("not routing to %s: %s registered peer %s", record.peer_id[-8:], record.address,
                     registered[-8:] or "none")
            return False
        return True


class StaticStakes:
    """``is_active`` from a fixed set of addresses (no StakingRegistry; tests)."""

    def __init__(self, addresses: Iterable[str] = ()) -> None:
        self.addresses = {a.lower() for a in addresses}

    def is_active(self, address: str) -> bool:
        return address.lower() in self.addresses

    def describe(self) -> str:
        return "off-chain list (no StakingRegistry)"
