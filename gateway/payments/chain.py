"""The deployed Payments contract as a ``ChannelSource`` and a batch ``Redeemer``."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from gateway.payments.channels import ChannelInfo
from node.chain.artifacts import load_artifact
from node.chain.connect import transact
from node.client.vouchers import SignedVoucher
from node.core.errors import ChainError

ZERO = "0x0000000000000000000000000000000000000000"


class ChainChannels:
    """``IPayments.channelOf``; an unknown channel (a revert or a zero client) is None."""

    def __init__(self, payments: Any) -> None:
        self.payments = payments

    def channel(self, channel_id: int) -> ChannelInfo | None:
        try:
            client, expiry, payee, deposit, redeemed = self.payments.functions.channelOf(channel_id).call()
        except (ContractCustomError, ContractLogicError):
            return None
        if client == ZERO:
            return None
        return ChannelInfo(channel_id, Web3.to_checksum_address(client),
                           Web3.to_checksum_address(payee), int(deposit), int(redeemed), int(expiry))


class ChainRedeemer:
    """``IPayments.redeemBatch`` from the payee's account, in one transaction."""

    def __init__(self, w3: Web3, payments: Any, payee: LocalAccount) -> None:
        self.w3 = w3
        self.payments = payments
        self.payee = payee

    def redeem(self, vouchers: list[SignedVoucher]) -> str | None:
        call = self.payments.functions.redeemBatch(
            [s.voucher.as_tuple() for s in vouchers], [s.signature for s in vouchers]
        )
        try:
            receipt = transact(self.w3, self.payee, call)
        except ContractCustomError as exc:
            name, args = load_artifact("Payments").decode_error(str(exc.data))
            raise ChainError(f"redeemBatch reverted: {name}{args}") from None
        return "0x" + bytes(receipt["transactionHash"]).hex()
