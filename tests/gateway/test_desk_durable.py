"""The payment desk without a model: its books survive the process (SQLite file), a
request cut off by a crash is charged what it had served, one process owns a desk file,
channels about to expire and damaged signatures are refused with a 402 naming the check,
and redemption takes the charged total, not the last voucher's bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gwkit import CLIENT, OTHER
from paykit import damaged_signatures

from gateway.errors import APIError
from gateway.payments.channels import MemoryChannels
from gateway.payments.desk import PaymentDesk
from gateway.payments.redeem import MemoryRedeemer, RedeemLoop
from gateway.payments.store import DeskStore
from gateway.state import OFFCHAIN_PAYMENTS
from node.client.vouchers import SignedVoucher, VoucherWallet
from node.core.errors import ConfigError
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain

PAYEE = OTHER.address
DOMAIN = Domain(PAYMENTS_DOMAIN_NAME, 31337, OFFCHAIN_PAYMENTS)
MODEL = "smollm2-135m-instruct"


def _desk(path: Path | str, channels: MemoryChannels, margin_s: int = 0) -> PaymentDesk:
    return PaymentDesk(DOMAIN, PAYEE, channels, price_per_token_wei=10, min_validity_s=60,
                       store=DeskStore(path), margin_s=margin_s, payee_key=OTHER.private_key)


def _setup(tmp_path: Path, expires_in: int = 3600) -> tuple[MemoryChannels, VoucherWallet]:
    channels = MemoryChannels()
    channel = channels.open(CLIENT.address, PAYEE, 10**6, int(time.time()) + expires_in)
    return channels, VoucherWallet(CLIENT.private_key, DOMAIN, PAYEE, channel, MODEL, 10)


def _code(fn) -> str:  # noqa: ANN001
    with pytest.raises(APIError) as err:
        fn()
    assert err.value.status == 402, err.value
    return str(err.value.code)


def test_books_survive_a_restart_and_a_crashed_request_is_charged_what_it_served(tmp_path: Path) -> None:
    channels, wallet = _setup(tmp_path)
    path = tmp_path / "desk.sqlite"
    desk = _desk(path, channels)
    signed = wallet.sign(400)
    desk.admit(signed, channels.channel(wallet.channel), MODEL, 20).settle(70)  # done: 70 charged
    running = desk.admit(wallet.sign(700), channels.channel(wallet.channel), MODEL, 20)
    running.progress(30)  # the stream sent 3 tokens, then the process died (no settle)
    desk.store.close()  # what SIGKILL leaves: the file, no in-memory state

    again = _desk(path, channels)
    account = again.accounts[wallet.channel]
    assert (account.accepted, account.charged, account.reserved) == (700, 100, 0)
    assert again.orphans_recovered == 1
    assert account.latest is not None and account.latest.voucher.cumulative_amount == 700
    # the old vouchers are still spent after the restart
    assert _code(lambda: again.admit(wallet.sign(700), channels.channel(wallet.channel), MODEL, 1)) in (
        "voucher_replayed", "voucher_not_increasing")
    loop = RedeemLoop(again, MemoryRedeemer(channels), 60)
    assert loop.redeem_now() == 1
    assert channels.channel(wallet.channel).redeemed == 100  # charged, not the voucher's 700
    again.store.close()
    third = _desk(path, channels)  # and a second restart redeems nothing twice
    assert RedeemLoop(third, MemoryRedeemer(channels), 60).redeem_now() == 0


def test_one_process_owns_a_desk_file(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite"
    first = DeskStore(path)
    with pytest.raises(ConfigError, match="one gateway process per payee"):
        DeskStore(path)
    first.close()
    DeskStore(path).close()  # free again once the owner is gone


def test_channel_expiring_within_the_redeem_margin_is_refused(tmp_path: Path) -> None:
    """Attack: open a channel that expires before the gateway's next redemption, spend,
    then reclaim the deposit. The desk wants 2 × redeem interval + grace left."""
    channels, wallet = _setup(tmp_path, expires_in=100)
    desk = _desk(":memory:", channels, margin_s=2 * 60 + 60)
    code = _code(lambda: desk.admit(wallet.sign(500), channels.channel(wallet.channel), MODEL, 10))
    assert code == "channel_expiring"
    assert wallet.channel not in desk.accounts  # nothing reserved, nothing recorded


def test_every_kind_of_damaged_signature_is_a_402_bad_signature(tmp_path: Path) -> None:
    channels, wallet = _setup(tmp_path)
    desk = _desk(":memory:", channels)
    for name, damaged in damaged_signatures(wallet.sign(500)).items():
        def run(d: SignedVoucher | str = damaged) -> None:
            signed = desk.decode(d) if isinstance(d, str) else d
            desk.admit(signed, channels.channel(wallet.channel), MODEL, 10)
        assert _code(run) == "bad_signature", name
