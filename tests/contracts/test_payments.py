"""Payments on anvil: channels, cumulative vouchers signed in Python, the 70/20/10 split
to the inferers' pool / the model creator / the treasury, batch redemption, reclaim after
expiry and pull withdrawals — each with its exact reverts (epoch roots and claims:
tests/contracts/test_epochs.py)."""

from __future__ import annotations

import pytest
from chainkit import (
    DEPLOYER,
    HELIO,
    actor,
    advance,
    as_timelock,
    events,
    give_tokens,
    now,
    revert,
    send,
)  # fmt: skip
from web3 import Web3
from web3.contract import Contract

from node.crypto.eip712 import Domain, Voucher, model_key

pytestmark = pytest.mark.chain
PAY = "Payments"
DEMO = model_key("smollm2-135m-instruct")
DAY = 24 * 3600
SETTLE = 3600  # Payments.SETTLE_PERIOD


@pytest.fixture
def pay(contracts: dict[str, Contract]) -> Contract:
    return contracts[PAY]


@pytest.fixture
def client(w3: Web3, contracts: dict[str, Contract], pay: Contract):  # noqa: ANN201
    who = actor("client")
    give_tokens(w3, contracts["HelioToken"], who, 1_000 * HELIO)
    send(w3, who, contracts["HelioToken"].functions.approve(pay.address, 10**30))
    return who


@pytest.fixture
def gateway(w3: Web3, contracts: dict[str, Contract]):  # noqa: ANN201
    who = actor("gateway")
    give_tokens(w3, contracts["HelioToken"], who, 0)
    return who


def open_channel(w3: Web3, pay: Contract, client, gateway, amount: int = 100 * HELIO) -> int:  # noqa: ANN001
    receipt = send(w3, client, pay.functions.openChannel(gateway.address, amount, now(w3) + DAY))
    return events(pay, receipt, "ChannelOpened")[0]["channel"]


def voucher(
    w3: Web3, pay: Contract, client, gateway, channel: int, cumulative: int, **kw
) -> tuple[tuple, bytes]:  # noqa: ANN001, ANN003
    v = Voucher(kw.get("client_", client.address), gateway.address, channel, kw.get("model", DEMO),
                cumulative, kw.get("expiry", now(w3) + 3600))  # fmt: skip
    return v.as_tuple(), v.sign(kw.get("key", client.private_key), Domain.of(pay))


def test_open_and_top_up(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    token = contracts["HelioToken"]
    expiry = now(w3) + DAY
    receipt = send(w3, client, pay.functions.openChannel(gateway.address, 100 * HELIO, expiry))
    assert events(pay, receipt, "ChannelOpened") == [{
        "channel": 1, "client": client.address, "payee": gateway.address, "deposit": 100 * HELIO, "expiry": expiry,
    }]  # fmt: skip
    assert token.functions.balanceOf(pay.address).call() == 100 * HELIO
    receipt = send(w3, client, pay.functions.topUp(1, 5 * HELIO, expiry + 10))
    assert events(pay, receipt, "ChannelToppedUp") == [
        {"channel": 1, "amount": 5 * HELIO, "deposit": 105 * HELIO, "expiry": expiry + 10}
    ]
    assert pay.functions.channelOf(1).call() == (
        client.address,
        expiry + 10,
        gateway.address,
        105 * HELIO,
        0,
    )
    assert pay.functions.channelCount().call() == 1
    zero = "0x" + "00" * 20
    assert revert(w3, client, pay.functions.openChannel(zero, 1, expiry), PAY) == (
        "PaymentsInvalidAddress",
        (zero,),
    )
    assert revert(w3, client, pay.functions.openChannel(client.address, 1, expiry), PAY) == (
        "PaymentsInvalidAddress",
        (client.address,),
    )
    assert revert(w3, client, pay.functions.openChannel(gateway.address, 0, expiry), PAY) == (
        "PaymentsZeroAmount",
        (),
    )
    assert (
        revert(w3, client, pay.functions.openChannel(gateway.address, 1, 5), PAY)[0]
        == "PaymentsInvalidExpiry"
    )
    assert revert(w3, gateway, pay.functions.topUp(1, 0, expiry + 20), PAY) == (
        "PaymentsNotClient",
        (1, gateway.address),
    )
    assert revert(w3, client, pay.functions.topUp(1, 0, expiry), PAY)[0] == "PaymentsInvalidExpiry"
    assert revert(w3, client, pay.functions.topUp(9, 0, expiry + 20), PAY) == (
        "PaymentsUnknownChannel",
        (9,),
    )


def test_redeem_moves_only_the_delta_and_splits(w3: Web3, pay: Contract, client, gateway) -> None:  # noqa: ANN001
    ch = open_channel(w3, pay, client, gateway)
    receipt = send(
        w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 10 * HELIO))
    )
    assert events(pay, receipt, "VoucherRedeemed") == [{
        "channel": ch, "modelId": DEMO, "cumulativeAmount": 10 * HELIO, "delta": 10 * HELIO,
        "toInferers": 7 * HELIO, "toCreator": 2 * HELIO, "toTreasury": 1 * HELIO,
    }]  # fmt: skip
    receipt = send(
        w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 15 * HELIO))
    )
    assert events(pay, receipt, "VoucherRedeemed")[0]["delta"] == 5 * HELIO
    assert pay.functions.channelOf(ch).call()[4] == 15 * HELIO
    assert pay.functions.unallocatedPool().call() == 15 * HELIO * 7 // 10
    assert (
        pay.functions.royaltiesOf(DEPLOYER.address).call() == 3 * HELIO
    )  # the demo model's creator
    assert pay.functions.treasuryAccrued().call() == 15 * HELIO // 10


def test_redeem_reverts(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    ch = open_channel(w3, pay, client, gateway)
    assert revert(
        w3, client, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 1)), PAY
    ) == ("PaymentsNotPayee", (ch, client.address))
    assert revert(
        w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, 7, 1)), PAY
    ) == ("PaymentsUnknownChannel", (7,))
    other = actor("other")
    assert revert(
        w3,
        gateway,
        pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 1, client_=other.address)),
        PAY,
    ) == ("PaymentsVoucherMismatch", (ch,))
    name, (expiry, _) = revert(
        w3,
        gateway,
        pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 1, expiry=now(w3) - 1)),
        PAY,
    )
    assert name == "PaymentsVoucherExpired"
    assert revert(
        w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 101 * HELIO)), PAY
    ) == ("PaymentsExceedsDeposit", (101 * HELIO, 100 * HELIO))
    name, (signer, expected) = revert(
        w3,
        gateway,
        pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 1, key=other.private_key)),
        PAY,
    )
    assert (name, signer, expected) == ("PaymentsBadSignature", other.address, client.address)
    unknown = model_key("not-registered")
    assert revert(
        w3,
        gateway,
        pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 1, model=unknown)),
        PAY,
    ) == ("PaymentsUnknownModel", (unknown,))
    send(w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 5)))
    assert revert(
        w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 5)), PAY
    ) == ("PaymentsNothingToRedeem", (5, 5))
    advance(w3, DAY + SETTLE)
    name, (channel, _) = revert(
        w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 9)), PAY
    )
    assert (name, channel) == ("PaymentsChannelExpired", ch)


def test_redeem_batch(w3: Web3, pay: Contract, client, gateway) -> None:  # noqa: ANN001
    a, b = open_channel(w3, pay, client, gateway), open_channel(w3, pay, client, gateway)
    signed = [voucher(w3, pay, client, gateway, a, 10), voucher(w3, pay, client, gateway, b, 20),
              voucher(w3, pay, client, gateway, a, 30)]  # fmt: skip
    receipt = send(w3, gateway, pay.functions.redeemBatch(
        [v for v, _ in signed], [s for _, s in signed], [10, 20, 30]))
    assert [e["delta"] for e in events(pay, receipt, "VoucherRedeemed")] == [10, 20, 20]
    assert pay.functions.channelOf(a).call()[4] == 30
    assert (
        pay.functions.unallocatedPool().call()
        + pay.functions.treasuryAccrued().call()
        + pay.functions.royaltiesOf(DEPLOYER.address).call()
        == 50
    )
    assert revert(w3, gateway, pay.functions.redeemBatch([signed[0][0]], [], [10]), PAY) == (
        "PaymentsBatchLength",
        (1, 0),
    )
    assert revert(w3, gateway, pay.functions.redeemBatch([signed[0][0]], [signed[0][1]], []), PAY) == (
        "PaymentsBatchLength",
        (1, 0),
    )
    n = 257
    assert revert(
        w3, gateway, pay.functions.redeemBatch([signed[0][0]] * n, [signed[0][1]] * n, [10] * n), PAY
    ) == ("PaymentsBatchTooLarge", (n, 256))


def test_redeem_batch_takes_only_what_was_charged(w3: Web3, pay: Contract, client, gateway) -> None:  # noqa: ANN001
    """The payee redeems what it charged, below the voucher's bound; never above it."""
    ch = open_channel(w3, pay, client, gateway)
    v, sig = voucher(w3, pay, client, gateway, ch, 50)
    assert revert(w3, gateway, pay.functions.redeemBatch([v], [sig], [51]), PAY) == (
        "PaymentsAmountAboveVoucher", (51, 50))
    receipt = send(w3, gateway, pay.functions.redeemBatch([v], [sig], [37]))
    assert events(pay, receipt, "VoucherRedeemed")[0]["cumulativeAmount"] == 37
    assert pay.functions.channelOf(ch).call()[4] == 37
    assert revert(w3, gateway, pay.functions.redeemBatch([v], [sig], [37]), PAY) == (
        "PaymentsNothingToRedeem", (37, 37))


def test_reclaim_after_expiry(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    token = contracts["HelioToken"]
    ch = open_channel(w3, pay, client, gateway)
    send(w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 30 * HELIO)))
    name, (channel, _) = revert(w3, client, pay.functions.reclaim(ch), PAY)
    assert (name, channel) == ("PaymentsChannelNotExpired", ch)
    advance(w3, DAY + SETTLE)
    assert revert(w3, gateway, pay.functions.reclaim(ch), PAY) == (
        "PaymentsNotClient",
        (ch, gateway.address),
    )
    before = token.functions.balanceOf(client.address).call()
    receipt = send(w3, client, pay.functions.reclaim(ch))
    assert events(pay, receipt, "ChannelReclaimed") == [
        {"channel": ch, "client": client.address, "amount": 70 * HELIO}
    ]
    assert token.functions.balanceOf(client.address).call() == before + 70 * HELIO
    assert revert(w3, client, pay.functions.reclaim(ch), PAY) == ("PaymentsNothingToReclaim", (ch,))


def test_withdraw_royalties_and_treasury(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    token, timelock = contracts["HelioToken"], contracts["HelioTimelock"].address
    ch = open_channel(w3, pay, client, gateway)
    send(w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 10 * HELIO)))
    before = token.functions.balanceOf(DEPLOYER.address).call()
    receipt = send(w3, DEPLOYER, pay.functions.withdrawRoyalties())
    assert events(pay, receipt, "RoyaltiesWithdrawn") == [
        {"account": DEPLOYER.address, "amount": 2 * HELIO}
    ]
    assert token.functions.balanceOf(DEPLOYER.address).call() == before + 2 * HELIO
    assert revert(w3, DEPLOYER, pay.functions.withdrawRoyalties(), PAY) == (
        "PaymentsNothingToWithdraw",
        (DEPLOYER.address,),
    )
    receipt = send(w3, gateway, pay.functions.withdrawTreasury())
    assert events(pay, receipt, "TreasuryWithdrawn") == [{"treasury": timelock, "amount": HELIO}]
    assert token.functions.balanceOf(timelock).call() == HELIO
    assert revert(w3, gateway, pay.functions.withdrawTreasury(), PAY) == (
        "PaymentsNothingToWithdraw",
        (timelock,),
    )


def test_governance_sets_split_and_treasury(
    w3: Web3, contracts: dict[str, Contract], pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    timelock = contracts["HelioTimelock"].address
    assert pay.functions.split().call() == (7_000, 2_000, 1_000)
    assert (
        revert(w3, client, pay.functions.setSplit(1, 1, 9_998), PAY)[0]
        == "AccessControlUnauthorizedAccount"
    )
    receipt = as_timelock(w3, timelock, pay.functions.setSplit(6_000, 3_000, 1_000))
    assert events(pay, receipt, "SplitSet") == [
        {"inferersBps": 6_000, "creatorBps": 3_000, "treasuryBps": 1_000}
    ]
    ch = open_channel(w3, pay, client, gateway)
    receipt = send(w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 100)))
    assert events(pay, receipt, "VoucherRedeemed")[0]["toCreator"] == 30
    receipt = as_timelock(w3, timelock, pay.functions.setTreasury(gateway.address))
    assert events(pay, receipt, "TreasurySet") == [
        {"oldTreasury": timelock, "newTreasury": gateway.address}
    ]
    assert pay.functions.treasury().call() == gateway.address
    for call in (
        pay.functions.setSplit(5_000, 5_000, 1),
        pay.functions.setTreasury("0x" + "00" * 20),
    ):
        with pytest.raises(Exception):  # noqa: B017 (impersonated: the custom error shows in estimation)
            as_timelock(w3, timelock, call)


def test_payee_redeems_in_the_grace_window_and_the_client_cannot_reclaim_in_it(
    w3: Web3, pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    """Attack: spend up to the channel's expiry, then reclaim before the payee's last batch
    lands. The settle period after expiry belongs to the payee."""
    assert pay.functions.SETTLE_PERIOD().call() == SETTLE
    ch = open_channel(w3, pay, client, gateway)
    expiry = pay.functions.channelOf(ch).call()[1]
    v, sig = voucher(w3, pay, client, gateway, ch, 10 * HELIO, expiry=expiry + SETTLE)
    advance(w3, DAY + 60)  # expired, inside the settle period
    assert revert(w3, client, pay.functions.reclaim(ch), PAY) == (
        "PaymentsChannelSettling", (ch, expiry + SETTLE))
    send(w3, gateway, pay.functions.redeem(v, sig))
    assert pay.functions.channelOf(ch).call()[4] == 10 * HELIO
    advance(w3, SETTLE)
    v2, sig2 = voucher(w3, pay, client, gateway, ch, 11 * HELIO, expiry=now(w3) + 3600)
    assert revert(w3, gateway, pay.functions.redeem(v2, sig2), PAY) == (
        "PaymentsChannelExpired", (ch, expiry))
    send(w3, client, pay.functions.reclaim(ch))


def test_top_up_after_reclaim_cannot_revive_old_vouchers(
    w3: Web3, pay: Contract, client, gateway
) -> None:  # noqa: ANN001
    """Attack (by the payee, or a stale voucher): the client reclaims, tops the channel up
    again, and an old voucher above the redeemed amount would be paid from the new deposit."""
    ch = open_channel(w3, pay, client, gateway)
    send(w3, gateway, pay.functions.redeem(*voucher(w3, pay, client, gateway, ch, 10 * HELIO)))
    expiry = pay.functions.channelOf(ch).call()[1]
    old = voucher(w3, pay, client, gateway, ch, 60 * HELIO, expiry=expiry + 10 * DAY)  # never redeemed
    advance(w3, DAY + SETTLE)
    send(w3, client, pay.functions.reclaim(ch))
    assert pay.functions.isClosed(ch).call()
    assert revert(w3, client, pay.functions.topUp(ch, 100 * HELIO, now(w3) + DAY), PAY) == (
        "PaymentsChannelClosed", (ch,))
    name, _ = revert(w3, gateway, pay.functions.redeem(*old), PAY)
    assert name == "PaymentsChannelExpired"
