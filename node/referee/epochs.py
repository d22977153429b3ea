"""Closing contribution epochs: share the Payments contract's unallocated inferers' pool
pro rata to the work recorded, sign the Merkle root, post it (``postEpochRoot``), after
which each inferer claims its amount with its proof (the gateway publishes the closed
epochs at ``GET /v1/contributions``).

Off-chain (no Payments contract) the epoch is still closed and signed, with the work
itself as the amounts, so the record and proofs can be checked.

The caller (the gateway) hands in the ledger, the referee's key and, where a Payments
contract is deployed, a way to reach it signed by that key (``EpochPayments``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount

from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.referee.accounting import ContributionLedger, EpochRecord

log = logging.getLogger(__name__)


class EpochPayments(Protocol):
    """What closing an epoch needs of the Payments contract (``node.chain.bindings.Payments``)."""

    def unallocated_pool(self) -> int: ...

    def post_epoch_root(self, root: bytes, total: int) -> Any: ...

    def events(self, receipt: Any, event: str) -> list[dict[str, Any]]: ...


# The Payments contract as the referee's account: None where none is deployed.
PaymentsFor = Callable[[LocalAccount], EpochPayments]


def referee_key(configured: str | None, chain_id: int) -> str | None:
    """The key that signs (and posts) epoch roots: the configured one, else on a local
    anvil chain the public dev deployer's; None: epochs are closed unsigned."""
    if configured:
        return configured
    if chain_id == ANVIL_CHAIN_ID:
        return DEV_ACCOUNTS[0].private_key  # PUBLIC anvil dev key: the local deployer/referee
    return None


def close_epoch(ledger: ContributionLedger, key: str | None,
                payments_for: PaymentsFor | None = None) -> EpochRecord | None:
    """Close the current epoch now; post its root when there is a Payments contract
    (``payments_for``) and a key to sign with."""
    if payments_for is None or key is None:
        return ledger.close(sum(ledger.work.values()), key)
    payments = payments_for(Account.from_key(key))
    pool = payments.unallocated_pool()
    record = ledger.close(pool, key)
    if record is None or record.total == 0:
        return record
    receipt = payments.post_epoch_root(record.root, record.total)
    posted = dataclasses.replace(
        record, tx="0x" + bytes(receipt["transactionHash"]).hex(),
        chain_epoch=int(payments.events(receipt, "EpochRootPosted")[0]["epoch"]),
    )
    ledger.closed[-1] = posted
    log.info("contribution epoch %d: root 0x%s, %d wei to %d inferer(s), chain epoch %d",
             posted.epoch, posted.root.hex(), posted.total, len(posted.amounts), posted.chain_epoch)
    return posted
