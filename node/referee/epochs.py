"""Closing contribution epochs: share this gateway's (payee's) inferers' pool of the
Payments contract pro rata to the work recorded, sign the Merkle root as a referee
(EIP-712 ``EpochRoot``), post it (``postEpochRoot``); once its challenge delay has passed
each inferer claims its amount with its proof (the gateway publishes the closed epochs at
``GET /v1/contributions``).

The ledger keeps the work until the chain's receipt is in: a post that fails (chain
down, a revert) loses nothing, the next close shares the same work again.

Off-chain (no Payments contract) the epoch is still closed and signed (EIP-191), with the
work itself as the amounts, so the record and proofs can be checked.

The caller (the gateway) hands in the ledger, the referee's key, the payee whose pool
is shared and, where a Payments contract is deployed, a way to reach it signed by that
key (``EpochPayments``). One signature suffices where ``Payments.epochQuorum()`` is 1 (the
default of every deploy profile); a quorum above 1 needs co-signatures this module does
not gather, and the post is refused on chain (``PaymentsEpochQuorum``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount

from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS, refuse_dev_key
from node.crypto.eip712 import Domain, EpochRoot
from node.referee.accounting import ContributionLedger, EpochRecord

log = logging.getLogger(__name__)


class EpochPayments(Protocol):
    """What closing an epoch needs of the Payments contract (``node.chain.bindings.Payments``)."""

    def pool_of(self, payee: str) -> int: ...

    def epoch_nonce_of(self, payee: str) -> int: ...

    def domain(self) -> Domain: ...

    def post_epoch_root(
        self, payee: str, root: bytes, total: int, signatures: list[tuple[str, bytes]]
    ) -> Any: ...

    def events(self, receipt: Any, event: str) -> list[dict[str, Any]]: ...


# The Payments contract as the referee's account: None where none is deployed.
PaymentsFor = Callable[[LocalAccount], EpochPayments]


def referee_key(configured: str | None, chain_id: int) -> str | None:
    """The key that signs (and posts) epoch roots: the configured one, else on a local
    anvil chain the public dev deployer's; None: epochs are closed unsigned. A public dev
    key is refused on any other chain (``ConfigError``)."""
    if configured:
        refuse_dev_key(
            configured, chain_id, "the gateway's referee key (HELIO_GATEWAY_REFEREE_KEY)"
        )
        return configured
    if chain_id == ANVIL_CHAIN_ID:
        return DEV_ACCOUNTS[0].private_key  # PUBLIC anvil dev key: the local deployer/referee
    return None


def close_epoch(ledger: ContributionLedger, key: str | None,
                payments_for: PaymentsFor | None = None,
                payee: str | None = None) -> EpochRecord | None:  # fmt: skip
    """Close the current epoch now; post its root when there is a Payments contract
    (``payments_for``), a key to sign with and the ``payee`` whose pool it shares."""
    if payments_for is None or key is None or payee is None:
        return ledger.close(sum(ledger.work.values()), key)
    referee = Account.from_key(key)
    payments = payments_for(referee)
    record = ledger.draft(payments.pool_of(payee))
    if record is None or record.total == 0:
        ledger.commit(record)  # nothing to pay (no work, or an empty pool): nothing to post
        return record
    nonce = payments.epoch_nonce_of(payee)
    approval = EpochRoot(payee, record.root, record.total, nonce)
    signature = approval.sign(key, payments.domain())
    receipt = payments.post_epoch_root(
        payee, record.root, record.total, [(referee.address, signature)]
    )
    posted_event = payments.events(receipt, "EpochRootPosted")[0]
    posted = dataclasses.replace(
        record, signer=referee.address, signature=signature, payee=approval.payee,
        tx="0x" + bytes(receipt["transactionHash"]).hex(),
        chain_epoch=int(posted_event["epoch"]), opens_at=int(posted_event["opensAt"]),
    )  # fmt: skip
    ledger.commit(posted)  # only now: a failed post above left the work in the ledger
    log.info("contribution epoch %d: root 0x%s, %d wei of %s's pool to %d inferer(s), chain "
             "epoch %d, claims from %d", posted.epoch, posted.root.hex(), posted.total, payee,
             len(posted.amounts), posted.chain_epoch, posted.opens_at)  # fmt: skip
    return posted
