"""Reputation: spot-check outcomes per inferer → a score the route planner weights by.

Two sources: the chain's lifetime counts (``Verification.reputationTotal``: every
referee's posted spot-checks, cached for ``ttl_s``) and this referee's own view (its
checks, failed commitments the client handed over, fraud it found). The score is a
Laplace-smoothed pass rate in which one failure weighs ``failure_weight`` passes:
a new inferer starts at 0.5, honest work raises it towards 1.

An inferer is *excluded* (no routes) while jailed on chain or after this referee saw it
lie (a fraud verdict or a bad commitment) within ``exclude_s``; the stake check
(``StakeCache``: ``isActive`` is false while jailed) drops jailed inferers as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_utils.address import to_checksum_address

from node.referee.ttl import TtlMemo
from node.swarm.records import ServerRecord

log = logging.getLogger(__name__)


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0


class Reputation:
    """``score(address)`` in [0, 1]; ``trust(record)`` for ``RoutePlanner`` (0: no route)."""

    def __init__(self, *, chain_counts: Callable[[str], tuple[int, int]] | None = None,
                 is_jailed: Callable[[str], bool] | None = None, ttl_s: float = 60.0,
                 failure_weight: float = 10.0, exclude_s: float = 3600.0) -> None:
        self.chain_counts = chain_counts  # node.chain Verification.reputation_total
        self.is_jailed = is_jailed  # node.chain Staking.is_jailed
        self.failure_weight = failure_weight
        self.exclude_s = exclude_s
        self.local: dict[str, Counts] = {}
        self._lied_at: dict[str, float] = {}
        self._chain: TtlMemo[str, tuple[int, int]] = TtlMemo(ttl_s)
        self._jailed: TtlMemo[str, bool] = TtlMemo(ttl_s)

    @classmethod
    def for_chain(cls, chain: object, **kwargs: float) -> Reputation:
        """Backed by a ``HelioChain``'s Verification counts and Staking jail."""
        verification, staking = chain.verification, chain.staking  # type: ignore[attr-defined]
        counts = getattr(verification, "reputation_total", None)
        jailed = getattr(staking, "is_jailed", None)
        return cls(chain_counts=counts, is_jailed=jailed, **kwargs)

    # --- what the referee observed --------------------------------------------------------
    def record(self, address: str, passed: bool) -> None:
        counts = self.local.setdefault(to_checksum_address(address), Counts())
        if passed:
            counts.passed += 1
        else:
            counts.failed += 1

    def lied(self, address: str, why: str) -> None:
        """``address`` signed something false (fraud verdict, bad commitment): no routes."""
        address = to_checksum_address(address)
        self.record(address, passed=False)
        self._lied_at[address] = time.monotonic()
        log.warning("excluding %s from routes: %s", address, why)

    # --- what the planner asks -----------------------------------------------------------
    def counts(self, address: str) -> Counts:
        address = to_checksum_address(address)
        local = self.local.get(address, Counts())
        passed, failed = self._chain_counts(address)
        return Counts(local.passed + passed, local.failed + failed)

    def score(self, address: str) -> float:
        counts = self.counts(address)
        return (counts.passed + 1) / (counts.passed + self.failure_weight * counts.failed + 2)

    def excluded(self, address: str) -> bool:
        address = to_checksum_address(address)
        lied = self._lied_at.get(address)
        if lied is not None and time.monotonic() - lied < self.exclude_s:
            return True
        return self._jailed_now(address)

    def trust(self, record: ServerRecord) -> float:
        """0 for an excluded inferer (no route), else its score."""
        return 0.0 if self.excluded(record.address) else self.score(record.address)

    __call__ = trust

    def _chain_counts(self, address: str) -> tuple[int, int]:
        if self.chain_counts is None:
            return 0, 0
        fetch = self.chain_counts

        def ask() -> tuple[int, int]:
            try:
                passed, failed = fetch(address)
                return int(passed), int(failed)
            except Exception as exc:  # the local view still counts
                log.warning("reputation of %s unavailable on chain (%s)", address, exc)
                return 0, 0

        return self._chain.get(address, ask)

    def _jailed_now(self, address: str) -> bool:
        if self.is_jailed is None:
            return False
        check = self.is_jailed

        def ask() -> bool:
            try:
                return bool(check(address))
            except Exception as exc:  # fail closed: an unreachable chain vouches for no one
                log.warning("jail check for %s failed (%s): excluded", address, exc)
                return True

        return self._jailed.get(address, ask)
