"""Stake checks, cached: the route planner routes only to inferers whose Ethereum key has
active stake in StakingRegistry *and* registered the peer id the record comes from (so
nobody can borrow a staked address for a peer it does not control); the gateway raises
the free tier's limits for staked contributors (``is_active``: stake alone).

Answers are cached for ``ttl_s`` (per (address, peer id), per address); a chain that
cannot be reached counts as "not staked" (fail closed) and is logged.

``StaticStakes`` answers ``is_active`` from a fixed set instead (no StakingRegistry
deployed; tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from eth_utils.address import to_checksum_address

from node.referee.ttl import TtlMemo
from node.swarm.records import ServerRecord

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0  # stake changes take an unbonding delay; a minute of staleness is fine


class ActiveStakes(Protocol):
    """Who has active stake: ``StakeCache`` (the chain) or ``StaticStakes`` (a fixed set)."""

    def is_active(self, address: str) -> bool: ...

    def describe(self) -> str: ...


class StakeCache:
    """``is_staked(record)`` for ``RoutePlanner`` (called as ``cache(record)``) and
    ``is_active(address)``, backed by ``node.chain``'s ``Staking``."""

    def __init__(self, staking: Any, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.staking = staking  # node.chain.bindings.Staking (is_active, node_of)
        self._answers: TtlMemo[tuple[str, str], bool] = TtlMemo(ttl_s)
        self._active: TtlMemo[str, bool] = TtlMemo(ttl_s)

    def __call__(self, record: ServerRecord) -> bool:
        return self._answers.get((record.address, record.peer_id), lambda: self._ask(record))

    def is_active(self, address: str) -> bool:
        """Has ``address`` active stake (whatever peer it registered)?"""
        address = to_checksum_address(address)
        return self._active.get(address, lambda: self._ask_active(address))

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
