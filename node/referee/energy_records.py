"""Energy from DHT records: verify the signed report an inferer carries in its record
(``ServerRecord.energy``) and turn it into the planner's energy preference.

``RecordEnergy.observe(records)`` verifies each record's payload
(``energy_claims.verify_payload``: EIP-712 report signed by the inferer's key: its own
address, or its registered attestation key when ``key_of`` reads the chain; extras
bound to it; fresh) and checks that the report names the record's address; verified
claims go into an ``EnergyBook``. ``RecordEnergy.for_chain(chain)`` is the referee of a
swarm tied to a deployment: reports must be signed under the deployed
``EnergyAttestations`` EIP-712 domain by the key ``StakingRegistry.attestationKeyOf``
returns (``energy_keys.AttestationKeys``, cached). Unsigned, wrongly signed, stale or foreign reports are
ignored (logged once each): such an inferer gets no energy bonus.

``RecordEnergy.penalty`` is a ``RoutePlanner(penalty_ms=...)``: while no record in view
carries a verified claim it adds nothing (a swarm without energy data routes as
before); once some do, ``planner_penalty`` ranks them by headroom (more headroom, fewer
extra milliseconds) and inferers without a verified claim pay its ``unknown_ms``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from node.crypto.eip712 import Domain
from node.energy.attest import energy_domain
from node.referee.energy import (
    EnergyBook,
    EnergyClaim,
    EnergyScheduler,
    SchedulerConfig,
    planner_penalty,
)
from node.referee.energy_claims import ClaimError, KeyOf, verify_payload
from node.swarm.records import ServerRecord

log = logging.getLogger(__name__)


def own_key(address: str) -> str:
    """Without a chain: a report must be signed by the inferer's own address."""
    return address


class RecordEnergy:
    def __init__(self, *, domain: Domain | None = None, key_of: KeyOf = own_key,
                 config: SchedulerConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.domain = domain or energy_domain()
        self.key_of = key_of
        self.scheduler = EnergyScheduler(EnergyBook(config), config or SchedulerConfig())
        self.clock = clock
        self.rejected: dict[str, str] = {}  # peer id -> why its last energy claim was ignored
        self._penalty = planner_penalty(self.scheduler, clock)
        self._verify = lru_cache(maxsize=1024)(self._verify_uncached)

    @classmethod
    def for_chain(cls, chain: Any, config: SchedulerConfig | None = None,
                  clock: Callable[[], float] = time.time) -> RecordEnergy:
        """Verify under ``chain``'s (``node.chain``'s ``HelioChain``) EnergyAttestations
        domain against the registered attestation keys."""
        from node.referee.energy_keys import AttestationKeys

        return cls(domain=Domain.of(chain.energy.c), key_of=AttestationKeys(chain.staking),
                   config=config, clock=clock)

    @property
    def book(self) -> EnergyBook:
        return self.scheduler.book

    def _verify_uncached(self, payload: str, address: str) -> EnergyClaim:
        claim = verify_payload(payload.encode(), self.domain, self.key_of, self.clock(),
                               max_age_s=self.scheduler.config.max_age_s)
        if claim.inferer.lower() != address.lower():
            raise ClaimError(f"report is about {claim.inferer}, not the record's {address}")
        return claim

    def observe(self, records: Iterable[ServerRecord]) -> list[EnergyClaim]:
        """Verify the energy of every record carrying one; keep the good claims."""
        out = []
        for record in records:
            if record.energy is None:
                continue
            try:
                claim = self._verify(record.energy, record.address)
                if self.clock() - claim.timestamp > self.scheduler.config.max_age_s:
                    raise ClaimError(f"report is {self.clock() - claim.timestamp:.0f} s old")
            except ClaimError as exc:
                why = str(exc)
                if self.rejected.get(record.peer_id) != why:
                    log.warning("ignoring the energy claim of %s (%s): %s", record.peer_id[:12],
                                record.address, why)
                self.rejected[record.peer_id] = why
                continue
            self.rejected.pop(record.peer_id, None)
            self.book.update(claim)
            out.append(claim)
        return out

    def penalty(self, record: Any) -> float:
        """Extra ms per hop for ``record`` (0 for everyone while no verified claims exist)."""
        now = self.clock()
        if not self.book.fresh(now):
            return 0.0
        return self._penalty(record)
