"""Gateway parts without a model: stop strings, incremental decoding, the free tier's
accuracy, voucher checks one by one, voucher headers, Merkle proofs, epochs."""

from __future__ import annotations

import time

import pytest
from gwkit import CLIENT, INFERER, OTHER

from gateway.accounting import ContributionLedger, epoch_message
from gateway.detok import IncrementalDecoder, StopMatcher
from gateway.errors import APIError
from gateway.merkle import MerkleTree, verify
from gateway.payments.channels import MemoryChannels
from gateway.payments.desk import PaymentDesk
from gateway.ratelimit import FreeTier
from gateway.state import OFFCHAIN_PAYMENTS
from node.chain.eip712 import PAYMENTS_DOMAIN_NAME, Domain
from node.client.vouchers import (
    SignedVoucher,
    VoucherFormatError,
    VoucherWallet,
    recover_contributor,
)

PAYEE = OTHER.address
DOMAIN = Domain(PAYMENTS_DOMAIN_NAME, 31337, OFFCHAIN_PAYMENTS)


@pytest.mark.parametrize(
    ("deltas", "stops", "out", "stopped"),
    [
        (["Hel", "lo wor", "ld"], [], "Hello world", False),
        (["The capital", " is", " Paris"], [" is"], "The capital", True),
        (["a<", "|e", "nd|>b"], ["<|end|>"], "a", True),
        (["a<", "b"], ["<|end|>"], "a<b", False),  # held back, then released
        (["xSTO", "Py"], ["STOP", "TOPy"], "x", True),  # earliest match wins
    ],
)
def test_stop_matcher(deltas, stops, out, stopped) -> None:
    m = StopMatcher(stops)
    text = "".join(m.feed(d) for d in deltas) + m.flush()
    assert (text, m.stopped) == (out, stopped)


class _ByteTokenizer:
    """One token per UTF-8 byte: splits multi-byte characters across tokens."""

    def decode(self, ids, skip_special_tokens=True):
        return bytes(ids).decode("utf-8", errors="replace")


def test_incremental_decoder_holds_half_characters() -> None:
    d = IncrementalDecoder(_ByteTokenizer())
    pieces = [d.push(b) for b in "é☀".encode()]
    assert "".join(pieces) == "é☀" and "\ufffd" not in "".join(pieces)


def test_free_tier_counts_exactly_in_a_moving_window() -> None:
    tier = FreeTier(requests_per_minute=5, tokens_per_minute=100, multiplier=2)
    admitted = refused = 0
    for _ in range(20):
        try:
            tier.admit("1.2.3.4", False, 1).settle(1)
            admitted += 1
        except APIError as e:
            assert e.status == 429 and int(e.headers["Retry-After"]) >= 1
            refused += 1
    assert (admitted, refused) == (5, 15)
    tier.admit("5.6.7.8", False, 1)  # another IP has its own budget
    for _ in range(10):
        tier.admit("9.9.9.9", True, 1)  # contributor: 2 × 5
    with pytest.raises(APIError):
        tier.admit("9.9.9.9", True, 1)


def test_free_tier_tokens_charged_after_the_work() -> None:
    tier = FreeTier(requests_per_minute=100, tokens_per_minute=100)
    tier.admit("ip", False, 60).settle(30)  # worst 60, used 30
    tier.admit("ip", False, 60).settle(60)  # 30 + 60 = 90 used
    with pytest.raises(APIError) as err:
        tier.admit("ip", False, 20)
    assert err.value.status == 429


def _desk(deposit: int = 10**6) -> tuple[PaymentDesk, MemoryChannels, VoucherWallet]:
    channels = MemoryChannels()
    desk = PaymentDesk(DOMAIN, PAYEE, channels, price_per_token_wei=10, min_validity_s=60)
    channel = channels.open(CLIENT.address, PAYEE, deposit, int(time.time()) + 3600)
    wallet = VoucherWallet(CLIENT.private_key, DOMAIN, PAYEE, channel, "smollm2-135m-instruct", 10)
    return desk, channels, wallet


def _admit(desk: PaymentDesk, channels: MemoryChannels, signed: SignedVoucher, tokens: int = 10,
           model: str = "smollm2-135m-instruct"):
    return desk.admit(signed, channels.channel(signed.voucher.channel), model, tokens)


def _code(fn) -> str:
    with pytest.raises(APIError) as err:
        fn()
    return str(err.value.code)


def test_a_fresh_desk_counts_what_the_chain_already_redeemed() -> None:
    """A gateway that restarted has no memory of a channel; its old vouchers were paid out
    on-chain up to ``redeemed`` and must not buy anything again."""
    desk, channels, wallet = _desk()
    channels.redeemed(wallet.channel, 5000)  # paid out before the restart
    assert _code(lambda: _admit(desk, channels, wallet.sign(4000))) == "voucher_not_increasing"
    assert _code(lambda: _admit(desk, channels, wallet.sign(5050), tokens=10)) == "voucher_too_small"
    ticket = _admit(desk, channels, wallet.sign(5100), tokens=10)  # 100 wei beyond it: room for 10 tokens
    assert ticket.settle(100) == 5100


def test_desk_reserves_worst_case_and_charges_actual() -> None:
    desk, channels, wallet = _desk()
    ticket = _admit(desk, channels, wallet.sign(200), tokens=20)  # worst 200 wei
    assert desk.accounts[wallet.channel].reserved == 200
    # a second request while the first runs needs room beyond the reservation
    assert _code(lambda: _admit(desk, channels, wallet.sign(300), tokens=20)) == "voucher_too_small"
    assert ticket.settle(70) == 70 and ticket.settle(70) == 70  # settling twice charges once
    _admit(desk, channels, wallet.sign(470), tokens=20)  # 470 − 70 charged ≥ 200 + 200
    assert [s.voucher.cumulative_amount for s in desk.unredeemed()] == [470]


def test_desk_refusals_name_the_failed_check() -> None:
    desk, channels, wallet = _desk(deposit=1000)
    _admit(desk, channels, wallet.sign(500))
    assert _code(lambda: _admit(desk, channels, wallet.sign(1001))) == "insufficient_deposit"
    assert _code(lambda: _admit(desk, channels, wallet.sign(400))) == "voucher_not_increasing"
    assert _code(lambda: _admit(desk, channels, wallet.sign(900), model="gemma3-270m")) == "wrong_model"
    other_chain = SignedVoucher(wallet.sign(900).voucher, wallet.sign(900).signature, 1, OFFCHAIN_PAYMENTS)
    assert _code(lambda: _admit(desk, channels, other_chain)) == "wrong_chain"
    stranger = VoucherWallet(INFERER.private_key, DOMAIN, PAYEE, wallet.channel, wallet.model_id, 10)
    assert _code(lambda: _admit(desk, channels, stranger.sign(900))) == "unknown_channel"
    forged = SignedVoucher(wallet.sign(900).voucher, stranger.sign(900).signature, 31337, OFFCHAIN_PAYMENTS)
    assert _code(lambda: _admit(desk, channels, forged)) == "bad_signature"
    wallet.validity_s = 30
    assert _code(lambda: _admit(desk, channels, wallet.sign(900))) == "voucher_expired"


def test_voucher_header_round_trip_and_garbage() -> None:
    _, _, wallet = _desk()
    signed = wallet.sign(12345)
    assert SignedVoucher.decode(signed.encode()) == signed
    for bad in ["", "!!!", "e30", signed.encode()[:-8]]:
        with pytest.raises(VoucherFormatError):
            SignedVoucher.decode(bad)


def test_contributor_proof_recovers_the_address() -> None:
    from node.client.vouchers import contributor_header

    assert recover_contributor(contributor_header(INFERER.private_key)) == INFERER.address
    with pytest.raises(ValueError, match="expired"):
        recover_contributor(contributor_header(INFERER.private_key, validity_s=-10))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_merkle_proofs_verify_for_every_leaf(n: int) -> None:
    leaves = [(f"0x{i + 1:040x}", (i + 1) * 10**15) for i in range(n)]
    tree = MerkleTree(leaves)
    for i, (account, amount) in enumerate(leaves):
        assert verify(tree.root, account, amount, tree.proof(i))
        assert not verify(tree.root, account, amount + 1, tree.proof(i))


def test_openzeppelin_standard_tree_root() -> None:
    # Reference: @openzeppelin/merkle-tree StandardMerkleTree.of(values, ["address","uint256"])
    # for the two leaves below (its README example values) gives this root.
    leaves = [("0x1111111111111111111111111111111111111111", 5000000000000000000),
              ("0x2222222222222222222222222222222222222222", 2500000000000000000)]
    assert "0x" + MerkleTree(leaves).root.hex() == (
        "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77")


def test_epoch_shares_the_pool_pro_rata_and_is_signed() -> None:
    ledger = ContributionLedger(epoch_s=3600)
    ledger.record([(CLIENT.address, 20), (OTHER.address, 10)], tokens=30)
    ledger.record([(OTHER.address, 10)], tokens=30)
    record = ledger.close(pool_wei=1200, referee_key=INFERER.private_key)
    assert dict(record.amounts) == {CLIENT.address: 600, OTHER.address: 600}
    assert record.total == 1200 and record.signer == INFERER.address
    from eth_account import Account
    from eth_account.messages import encode_defunct

    message = encode_defunct(text=epoch_message(0, record.root, 1200))
    assert Account.recover_message(message, signature=record.signature) == INFERER.address
    assert verify(record.root, OTHER.address, 600, record.proof(OTHER.address))
    assert ledger.close(pool_wei=10) is None  # nobody worked in epoch 1
