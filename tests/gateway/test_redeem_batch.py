"""Redemption that one bad voucher cannot block, on anvil: each voucher is simulated
(``eth_call``) before the batch; the ones the chain would refuse are set aside with the
revert as the logged reason and the rest are redeemed, at the charged total."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.payments.bench import RedeemRig
from gateway.payments.chain import ChainRedeemer
from gateway.payments.redeem import RedeemLoop
from gateway.payments.store import DeskStore
from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedeemRig]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=directory)
        store = DeskStore(Path(directory) / "desk.sqlite")
        yield RedeemRig.create(w3, deployment, DEV_ACCOUNTS[1].private_key, DEV_ACCOUNTS[2].private_key, store)
        store.close()


def test_one_bad_voucher_among_50_does_not_block_the_other_49(rig: RedeemRig, caplog) -> None:  # noqa: ANN001
    """Attack: a channel another process of the payee already redeemed above this desk's
    charged total (or an expired one) used to revert the whole redeemBatch, forever."""
    wallets = rig.paid_channels(50, voucher=1000, charged=600)
    bad = wallets[17]
    rig.redeem_elsewhere(bad, 1000)
    loop = RedeemLoop(rig.desk, ChainRedeemer(rig.payee_chain.payments), 60)
    with caplog.at_level(logging.WARNING, logger="gateway.payments.redeem"):
        assert loop.redeem_now() == 49
    assert loop.batches == 1
    assert "PaymentsNothingToRedeem(600, 1000)" in loop.set_aside[bad.channel]
    assert f"channel {bad.channel}: redemption of 600 set aside" in caplog.text
    payments = rig.payee_chain.payments
    assert [payments.channel(w.channel)["redeemed"] for w in wallets if w is not bad] == [600] * 49
    assert loop.redeem_now() == 0  # the set-aside one is not retried every round
    # the bad channel's next voucher brings it back: 1100 charged over the 1000 redeemed
    ticket = rig.desk.admit(bad.sign(2000), rig.desk.channels.channel(bad.channel), "smollm2-135m-instruct", 900)
    ticket.settle(500)
    assert loop.redeem_now() == 1 and payments.channel(bad.channel)["redeemed"] == 1100
