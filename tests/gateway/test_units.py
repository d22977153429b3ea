"""Gateway parts without a model: the free tier's accuracy, voucher checks one by one,
voucher headers, contributor proofs. (Stop strings and incremental decoding are tested in
tests/node/client/test_detok.py, Merkle proofs in tests/node/chain/test_merkle.py,
epochs in tests/node/referee/test_accounting.py.)"""

from __future__ import annotations

import time

import pytest
from gwkit import CLIENT, INFERER, OTHER

from gateway.errors import APIError
from gateway.payments.channels import MemoryChannels
from gateway.payments.desk import PaymentDesk
from gateway.ratelimit import FreeTier
from gateway.state import OFFCHAIN_PAYMENTS
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.client.contributor import recover_contributor
from node.client.vouchers import (
    SignedVoucher,
    VoucherFormatError,
    VoucherWallet,
)
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain

PAYEE = OTHER.address
DOMAIN = Domain(PAYMENTS_DOMAIN_NAME, 31337, OFFCHAIN_PAYMENTS)


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
    assert [(r.signed.voucher.cumulative_amount, r.amount) for r in desk.unredeemed()] == [(470, 70)]


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
    from node.client.contributor import MAX_LIFETIME_S, contributor_header

    gateway, other = DEV_ACCOUNTS[1].address, DEV_ACCOUNTS[6].address
    header = contributor_header(INFERER.private_key, gateway, ANVIL_CHAIN_ID)
    assert recover_contributor(header, gateway, ANVIL_CHAIN_ID) == INFERER.address
    # Replayed at another gateway, or on another chain: refused (the audience is signed).
    with pytest.raises(ValueError, match="is for gateway"):
        recover_contributor(header, other, ANVIL_CHAIN_ID)
    with pytest.raises(ValueError, match="is for gateway"):
        recover_contributor(header, gateway, 1)
    retargeted = header.replace(gateway, other)
    with pytest.raises(ValueError, match="not signed by"):
        recover_contributor(retargeted, other, ANVIL_CHAIN_ID)
    with pytest.raises(ValueError, match="expired"):
        recover_contributor(contributor_header(INFERER.private_key, gateway, ANVIL_CHAIN_ID, lifetime_s=-10),
                            gateway, ANVIL_CHAIN_ID)
    forever = contributor_header(INFERER.private_key, gateway, ANVIL_CHAIN_ID, lifetime_s=MAX_LIFETIME_S + 1)
    with pytest.raises(ValueError, match="at most"):
        recover_contributor(forever, gateway, ANVIL_CHAIN_ID)
    for bad in ("", "a.b.c", "0x" + "00" * 20 + ".x.1.2.3.0x00"):
        with pytest.raises(ValueError, match="must be"):
            recover_contributor(bad, gateway, ANVIL_CHAIN_ID)


def test_a_chain_that_does_not_answer_is_503_chain_unavailable_not_an_unknown_channel() -> None:
    import socket

    from web3 import Web3

    from gateway.errors import APIError
    from gateway.payments.chain import ChainChannels
    from node.chain.artifacts import load_artifact
    from node.chain.bindings import Payments

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 2}))
    contract = w3.eth.contract(address=Web3.to_checksum_address("0x" + "11" * 20),
                               abi=load_artifact("Payments").abi)
    with pytest.raises(APIError) as raised:
        ChainChannels(Payments(w3, contract)).channel(1)
    assert raised.value.status == 503 and raised.value.code == "chain_unavailable"
    assert "Retry-After" in (raised.value.headers or {})
