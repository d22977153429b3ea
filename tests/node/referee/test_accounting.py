"""The referee's contribution ledger and epoch closing without a chain: work shared pro
rata, the root signed and its proofs verifying; closing through a (fake) Payments
contract signs an EIP-712 EpochRoot and posts it; a failed post keeps the work; the
gateway's closing finds the dev referee key on anvil (and refuses it anywhere else)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.chain.merkle import verify
from node.core.errors import ConfigError
from node.crypto.eip712 import Domain, EpochRoot
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
    """A stand-in for node.chain.bindings.Payments (the real contract: tests/gateway/test_epochs_chain.py)."""

    def __init__(self, pool: int, fail: bool = False) -> None:
        self.pool, self.fail = pool, fail
        self.posted: list[tuple[str, bytes, int, list[tuple[str, bytes]]]] = []

    def pool_of(self, payee: str) -> int:
        return self.pool

    def epoch_nonce_of(self, payee: str) -> int:
        return 3

    def domain(self) -> Domain:
        return Domain("Heliomesh Payments", ANVIL_CHAIN_ID, "0x" + "22" * 20)

    def post_epoch_root(self, payee: str, root: bytes, total: int,
                        signatures: list[tuple[str, bytes]]) -> dict[str, Any]:  # fmt: skip
        if self.fail:
            raise ConnectionError("the chain is down")
        self.posted.append((payee, root, total, signatures))
        return {"transactionHash": b"\x01" * 32}

    def events(self, receipt: Any, event: str) -> list[dict[str, Any]]:
        assert event == "EpochRootPosted"
        return [{"epoch": 7, "opensAt": 1234}]


def test_close_epoch_signs_an_epoch_root_posts_it_and_records_the_chain_epoch() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(OTHER.address, 2)], tokens=5)
    payments = _Payments(pool=1000)
    accounts: list[LocalAccount] = []

    def payments_for(account: LocalAccount) -> _Payments:
        accounts.append(account)
        return payments

    record = close_epoch(ledger, INFERER.private_key, payments_for, payee=CLIENT.address)
    assert record is not None and record.chain_epoch == 7 and record.tx == "0x" + "01" * 32
    assert record.payee == CLIENT.address and record.opens_at == 1234
    ((payee, root, total, [(signer, signature)]),) = payments.posted
    assert (payee, root, total, signer) == (CLIENT.address, record.root, 1000, INFERER.address)
    approval = EpochRoot(CLIENT.address, record.root, 1000, 3)  # nonce: epochNonceOf(payee)
    assert approval.recover(signature, payments.domain()) == INFERER.address
    assert ledger.closed[-1] == record and ledger.work == {} and ledger.epoch == 1
    assert [a.address for a in accounts] == [INFERER.address]


def test_a_failed_post_keeps_the_work_for_the_next_close() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(OTHER.address, 2)], tokens=5)
    with pytest.raises(ConnectionError):
        close_epoch(ledger, INFERER.private_key, lambda _: _Payments(1000, fail=True), payee=CLIENT.address)
    assert ledger.work == {OTHER.address: 10} and ledger.closed == [] and ledger.epoch == 0
    ledger.record([(CLIENT.address, 1)], tokens=4)
    record = close_epoch(ledger, INFERER.private_key, lambda _: _Payments(1000), payee=CLIENT.address)
    assert record is not None and record.work == {OTHER.address: 10, CLIENT.address: 4}


def test_commit_takes_off_only_the_drafted_work() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(OTHER.address, 1)], tokens=5)
    draft = ledger.draft(100)
    ledger.record([(OTHER.address, 1)], tokens=3)  # while the post was in flight
    ledger.commit(draft)
    assert ledger.work == {OTHER.address: 3} and ledger.closed == [draft]


def test_close_epoch_off_chain_shares_the_work_itself() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(OTHER.address, 2)], tokens=5)
    record = close_epoch(ledger, None)
    assert record is not None and record.amounts == [(OTHER.address, 10)] and record.signer is None


def test_referee_key_is_the_configured_one_else_the_anvil_dev_key() -> None:
    assert referee_key("0xabc", 1) == "0xabc"
    assert referee_key(None, ANVIL_CHAIN_ID) == DEV_ACCOUNTS[0].private_key
    assert referee_key(None, 1) is None
    with pytest.raises(ConfigError, match="public dev keys"):  # a dev key off the local chain
        referee_key(DEV_ACCOUNTS[0].private_key, 11155111)
