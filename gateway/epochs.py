"""Closing contribution epochs: share the Payments contract's unallocated inferers' pool
pro rata to the work recorded, sign the Merkle root, post it (``postEpochRoot``), after
which each inferer claims its amount with its proof (``GET /v1/contributions``).

Off-chain (no Payments contract) the epoch is still closed and signed, with the work
itself as the amounts, so the record and proofs can be checked.
"""

from __future__ import annotations

import dataclasses
import logging

from eth_account import Account

from gateway.accounting import EpochRecord
from gateway.state import Gateway
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS

log = logging.getLogger(__name__)


def referee_key(gateway: Gateway) -> str | None:
    if gateway.settings.referee_key:
        return gateway.settings.referee_key
    if gateway.desk.domain.chain_id == ANVIL_CHAIN_ID:
        return DEV_ACCOUNTS[0].private_key  # PUBLIC anvil dev key: the local deployer/referee
    return None


def close_epoch(gateway: Gateway) -> EpochRecord | None:
    """Close the current epoch now; post its root when the chain has Payments."""
    key = referee_key(gateway)
    chain = gateway.chain
    if chain is None or not chain.has("Payments") or key is None:
        return gateway.accounting.close(sum(gateway.accounting.work.values()), key)
    payments = chain.helio(Account.from_key(key)).payments
    pool = payments.unallocated_pool()
    record = gateway.accounting.close(pool, key)
    if record is None or record.total == 0:
        return record
    receipt = payments.post_epoch_root(record.root, record.total)
    posted = dataclasses.replace(
        record, tx="0x" + bytes(receipt["transactionHash"]).hex(),
        chain_epoch=int(payments.events(receipt, "EpochRootPosted")[0]["epoch"]),
    )
    gateway.accounting.closed[-1] = posted
    log.info("contribution epoch %d: root 0x%s, %d wei to %d inferer(s), chain epoch %d",
             posted.epoch, posted.root.hex(), posted.total, len(posted.amounts), posted.chain_epoch)
    return posted
