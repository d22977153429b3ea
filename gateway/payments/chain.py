"""The deployed Payments contract (node/chain's ``Payments`` wrapper) as a
``ChannelSource`` and a batch ``Redeemer``."""

from __future__ import annotations

from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from gateway.errors import APIError
from gateway.payments.channels import ChannelInfo
from gateway.payments.desk import Redemption
from node.chain.bindings import Payments
from node.core.errors import ChainError

ZERO = "0x0000000000000000000000000000000000000000"


class ChainChannels:
    """``Payments.channelOf``; an unknown channel (a revert or a zero client) is None. A
    chain that does not answer is the gateway's problem, not the client's: 503
    ``chain_unavailable`` (retry later), never a 402 that says the channel does not exist."""

    RETRY_AFTER_S = 10

    def __init__(self, payments: Payments) -> None:
        self.payments = payments

    def channel(self, channel_id: int) -> ChannelInfo | None:
        try:
            c = self.payments.channel(channel_id)
        except (ContractLogicError, ContractCustomError, ChainError, ValueError):  # unknown channel reverts
            return None
        except Exception as exc:  # noqa: BLE001 (connection refused, timeout, …)
            raise APIError(503, f"the gateway cannot reach its chain to check channel {channel_id} "
                           f"({type(exc).__name__}); retry later", type="server_error",
                           code="chain_unavailable",
                           headers={"Retry-After": str(self.RETRY_AFTER_S)}) from None
        if c["client"] == ZERO:
            return None
        return ChannelInfo(channel_id, Web3.to_checksum_address(c["client"]),
                           Web3.to_checksum_address(c["payee"]), int(c["deposit"]),
                           int(c["redeemed"]), int(c["expiry"]))


class ChainRedeemer:
    """``Payments.redeemBatch`` from the payee's account: each redemption simulated alone
    (``eth_call``), the good ones in one transaction."""

    def __init__(self, payments: Payments) -> None:
        if payments.account is None:
            raise ChainError("redeeming vouchers needs the payee's account")
        self.payments = payments

    def simulate(self, redemption: Redemption) -> str | None:
        s = redemption.signed
        return self.payments.simulate_redeem(s.voucher, s.signature, redemption.amount)

    def redeem(self, redemptions: list[Redemption]) -> str | None:
        receipt = self.payments.redeem_batch([(r.signed.voucher, r.signed.signature, r.amount)
                                              for r in redemptions])
        return "0x" + bytes(receipt["transactionHash"]).hex()
