"""Stake checks for the route planner: route only to inferers whose Ethereum key has
active stake in StakingRegistry *and* registered the peer id the record comes from
(so nobody can borrow a staked address for a peer it does not control).

Answers are cached per (address, peer id) for ``ttl_s``; a chain that cannot be reached
counts as "not staked" (fail closed) and is logged once per address.
"""

from __future__ import annotations

import logging
from typing import Any

from node.referee.ttl import TtlMemo
from node.swarm.records import ServerRecord

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0  # stake changes take an unbonding delay; a minute of staleness is fine


class StakeCache:
    """``is_staked(record)`` for ``RoutePlanner``, backed by ``node.chain``'s ``Staking``."""

    def __init__(self, staking: Any, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.staking = staking  # node.chain.bindings.Staking (is_active, node_of)
        self._answers: TtlMemo[tuple[str, str], bool] = TtlMemo(ttl_s)

    def __call__(self, record: ServerRecord) -> bool:
        return self._answers.get((record.address, record.peer_id), lambda: self._ask(record))

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
