"""The referee's contribution ledger and epoch closing without a chain: work shared pro
rata, the root signed and its proofs verifying; closing through a (fake) Payments
contract posts the root; the gateway's closing finds the dev referee key on anvil."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.chain.merkle import verify
from node.referee.accounting import ContributionLedger, epoch_message
from node.referee.epochs import close_epoch, referee_key

CLIENT, OTHER, INFERER = DEV_ACCOUNTS[2], DEV_ACCOUNTS[3], DEV_ACCOUNTS[4]


def test_epoch_shares_the_pool_pro_rata_and_is_signed() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(CLIENT.address, 20), (OTHER.address, 10)], tokens=30)
    ledger.record([(OTHER.address, 10)], tokens=30)
    record = ledger.close(pool_wei=1200, referee_key=INFERER.private_key)
    assert record is not None and record.signature is not None
    assert dict(record.amounts) == {CLIENT.address: 600, OTHER.address: 600}
    assert record.total == 1200 and record.signer == INFERER.address
    message = encode_defunct(text=epoch_message(0, record.root, 1200))
    assert Account.recover_message(message, signature=record.signature) == INFERER.address
    assert verify(record.root, OTHER.address, 600, record.proof(OTHER.address))
    assert verify(record.root, CLIENT.address, 600, record.proof(CLIENT.address.lower()))
    assert ledger.close(pool_wei=10) is None  # nobody worked in epoch 1


def test_a_pool_too_small_to_share_gives_a_zero_record() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(CLIENT.address, 1), (OTHER.address, 1)], tokens=1)
    record = ledger.close(pool_wei=1)  # 1 wei over 2 inferers: both round down to 0
    assert record is not None and record.total == 0 and record.amounts == [(sorted([CLIENT.address, OTHER.address])[0], 0)]


class _Payments:
    def __init__(self, pool: int) -> None:
        self.pool = pool
        self.posted: list[tuple[bytes, int]] = []

    def unallocated_pool(self) -> int:
        return self.pool

    def post_epoch_root(self, root: bytes, total: int) -> dict[str, Any]:
        self.posted.append((root, total))
        return {"transactionHash": b"\x01" * 32}

    def events(self, receipt: Any, event: str) -> list[dict[str, Any]]:
        assert event == "EpochRootPosted"
        return [{"epoch": 7}]


def test_close_epoch_posts_the_root_and_records_the_chain_epoch() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(OTHER.address, 2)], tokens=5)
    payments = _Payments(pool=1000)
    accounts: list[LocalAccount] = []

    def payments_for(account: LocalAccount) -> _Payments:
        accounts.append(account)
        return payments

    record = close_epoch(ledger, INFERER.private_key, payments_for)
    assert record is not None and record.chain_epoch == 7 and record.tx == "0x" + "01" * 32
    assert payments.posted == [(record.root, 1000)] and ledger.closed[-1] == record
    assert [a.address for a in accounts] == [INFERER.address]


def test_close_epoch_off_chain_shares_the_work_itself() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(OTHER.address, 2)], tokens=5)
    record = close_epoch(ledger, None)
    assert record is not None and record.amounts == [(OTHER.address, 10)] and record.signer is None


def test_referee_key_is_the_configured_one_else_the_anvil_dev_key() -> None:
    assert referee_key("0xabc", 1) == "0xabc"
    assert referee_key(None, ANVIL_CHAIN_ID) == DEV_ACCOUNTS[0].private_key
    assert referee_key(None, 1) is None
