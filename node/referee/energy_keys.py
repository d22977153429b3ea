"""Registered attestation keys for energy claims: ``AttestationKeys(staking)`` is the
``key_of`` a referee verifies DHT energy reports with when a chain is configured
(``StakingRegistry.attestationKeyOf(inferer)``), so a report signed by any other key —
even the inferer's own address, if it registered another key — is ignored.

Answers are cached per inferer for ``ttl_s`` (like ``node.referee.stake.StakeCache``); an
unregistered inferer (zero key) or a chain that cannot be reached gives ``None``: no
key, no trusted claim (fail closed), logged once per inferer until it changes.
"""

from __future__ import annotations

import logging
from typing import Any

from node.referee.ttl import TtlMemo

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0  # a key changes only through StakingRegistry.updateNode
ZERO = "0x" + "00" * 20


class AttestationKeys:
    """``key_of(inferer) -> registered attestation key | None``, backed by the chain."""

    def __init__(self, staking: Any, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.staking = staking  # node.chain.bindings.Staking (its web3 contract: .c)
        self.lookups = 0  # chain reads made (tests check the cache)
        self._answers: TtlMemo[str, str | None] = TtlMemo(ttl_s)
        self._logged: dict[str, str] = {}

    def __call__(self, inferer: str) -> str | None:
        return self._answers.get(inferer.lower(), lambda: self._ask(inferer))

    def forget(self, inferer: str | None = None) -> None:
        """Drop one cached answer (or all): the next call reads the chain."""
        self._answers.forget(inferer.lower() if inferer is not None else None)

    def _ask(self, inferer: str) -> str | None:
        self.lookups += 1
        try:
            key = str(self.staking.c.functions.attestationKeyOf(inferer).call())
        except Exception as exc:  # an unreachable chain must not make a claim trusted
            self._log_once(inferer, f"attestation key lookup failed ({type(exc).__name__}: {exc}); "
                           "its energy claims are ignored")
            return None
        if int(key, 16) == 0:
            self._log_once(inferer, "no registered attestation key; its energy claims are ignored")
            return None
        self._logged.pop(inferer.lower(), None)
        return key

    def _log_once(self, inferer: str, why: str) -> None:
        if self._logged.get(inferer.lower()) != why:
            log.warning("%s: %s", inferer, why)
            self._logged[inferer.lower()] = why
