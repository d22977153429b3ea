"""The gateway's side of contribution epochs: the referee's ``close_epoch`` given this
gateway's ledger, referee key and Payments contract; the loop that closes epochs on
time; and ``GET /v1/contributions`` (current work, closed epochs with their proofs'
roots, signatures and posting transactions)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from eth_account.signers.local import LocalAccount

from gateway.chain_link import ChainLink
from gateway.state import Gateway
from node.referee import epochs
from node.referee.accounting import EpochRecord

log = logging.getLogger(__name__)


def contributions(gateway: Gateway) -> dict[str, Any]:
    ledger = gateway.accounting
    return {"epoch": ledger.epoch, "current_work": dict(ledger.work),
            "closed": [r.as_dict() for r in ledger.closed]}


def close_epoch(gateway: Gateway) -> EpochRecord | None:
    """Close the current epoch now; post its root when the chain has Payments: it shares
    this gateway's own pool (its payee's 70 %) over the inferers this gateway counted."""
    key = epochs.referee_key(gateway.settings.referee_key, gateway.desk.domain.chain_id)
    chain = gateway.chain
    payments = _payments_of(chain) if chain is not None and chain.has("Payments") else None
    record = epochs.close_epoch(gateway.accounting, key, payments, gateway.desk.payee)
    if record is not None:
        gateway.metrics.epoch_closed(posted=record.tx is not None)
    return record


def _payments_of(chain: ChainLink) -> epochs.PaymentsFor:
    def payments_for(account: LocalAccount) -> epochs.EpochPayments:
        return chain.helio(account).payments

    return payments_for


async def epoch_loop(gateway: Gateway) -> None:
    """Close contribution epochs on time (and post their roots)."""
    while True:
        await asyncio.sleep(min(gateway.accounting.epoch_s, 60))
        if gateway.accounting.due():
            try:
                await asyncio.to_thread(close_epoch, gateway)
            except Exception as exc:  # the next epoch retries with the work since
                gateway.metrics.epoch_failed()
                log.warning("closing the contribution epoch failed: %s", exc)
