"""A gateway's signed receipt of a channel's books, so a wallet in a new process resumes.

``GET /v1/payments/channels/{channel}`` answers a ``ChannelReceipt``: the latest voucher
the gateway accepted on the channel (signed by the client itself), what it accepted,
charged, still reserves for running requests and redeemed, signed by the payee (EIP-191
over ``message()``). ``check`` is the wallet's side: the payee signed it, the voucher is
the wallet's own signature for this channel and domain, and the totals are consistent
(charged + reserved ≤ accepted = the voucher's amount), so a gateway cannot make a
resumed wallet sign above what it had already signed for (``VoucherWallet.resume``
checks the voucher part). ``check_chain`` adds the chain's view (client, payee, deposit,
redeemed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from node.core.errors import ConfigError
from node.crypto.eip712 import Domain


class ReceiptError(ConfigError):
    """A channel receipt that does not hold up: do not resume from it."""


@dataclass(frozen=True)
class ChannelReceipt:
    channel: int
    payee: str
    chain_id: int
    payments_contract: str
    accepted: int  # the latest voucher's cumulativeAmount
    charged: int  # finished requests (what the gateway redeems)
    reserved: int  # worst case of requests still running
    redeemed: int  # what the gateway redeemed on-chain so far
    voucher: str | None  # the latest voucher, X-Helio-Voucher encoding
    issued_at: int
    signature: str = ""

    def message(self) -> str:
        return (f"Heliomesh channel receipt: chain {self.chain_id} Payments {self.payments_contract} "
                f"channel {self.channel} payee {self.payee} accepted {self.accepted} charged "
                f"{self.charged} reserved {self.reserved} redeemed {self.redeemed} voucher "
                f"{self.voucher or '-'} at {self.issued_at}")

    def signed_by(self, private_key: str | bytes) -> ChannelReceipt:
        sig = Account.sign_message(encode_defunct(text=self.message()), private_key).signature
        return ChannelReceipt(**{**asdict(self), "signature": "0x" + bytes(sig).hex()})

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        for k in ("accepted", "charged", "reserved", "redeemed"):
            body[k] = str(body[k])  # wei exceeds JSON-safe integers
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ChannelReceipt:
        try:
            return cls(int(body["channel"]), str(body["payee"]), int(body["chain_id"]),
                       str(body["payments_contract"]), int(body["accepted"]), int(body["charged"]),
                       int(body["reserved"]), int(body["redeemed"]), body.get("voucher"),
                       int(body["issued_at"]), str(body["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ReceiptError(f"the gateway's channel receipt is malformed ({exc})") from None

    def check(self, payee: str, channel: int, domain: Domain) -> None:
        """``ReceiptError`` unless this receipt is the payee's, for this channel and domain,
        with consistent totals (the wallet checks the voucher itself: ``VoucherWallet.resume``)."""
        if (self.channel, self.chain_id, self.payments_contract.lower(), self.payee.lower()) != (
                channel, domain.chain_id, domain.verifying_contract.lower(), payee.lower()):
            raise ReceiptError(f"the receipt is for channel {self.channel} on chain {self.chain_id} / "
                               f"{self.payments_contract} toward {self.payee}, not this wallet's channel")
        try:
            signer = Account.recover_message(encode_defunct(text=self.message()), signature=self.signature)
        except Exception as exc:  # noqa: BLE001 (any junk signature is the same answer)
            raise ReceiptError(f"the receipt's signature is malformed ({type(exc).__name__})") from None
        if signer.lower() != payee.lower():
            raise ReceiptError(f"the receipt is signed by {signer}, not by the payee {payee}")
        if self.charged + self.reserved > self.accepted or self.redeemed > self.accepted:
            raise ReceiptError(f"the receipt's totals do not add up: charged {self.charged} + reserved "
                               f"{self.reserved} (redeemed {self.redeemed}) above accepted {self.accepted}")
        if self.voucher is None and (self.accepted or self.charged):
            raise ReceiptError("the receipt claims charges without a voucher of yours")

    def check_chain(self, on_chain: dict[str, Any], client: str) -> None:
        """Against ``Payments.channelOf``: the channel is this client's toward this payee, and
        nothing claimed exceeds the deposit or trails what the chain redeemed."""
        if on_chain["client"].lower() != client.lower() or on_chain["payee"].lower() != self.payee.lower():
            raise ReceiptError(f"on-chain channel {self.channel} is {on_chain['client']} → "
                               f"{on_chain['payee']}, not {client} → {self.payee}")
        if self.accepted > int(on_chain["deposit"]):
            raise ReceiptError(f"the receipt's accepted {self.accepted} exceeds the deposit {on_chain['deposit']}")
        if int(on_chain["redeemed"]) > self.charged + self.reserved:
            raise ReceiptError(f"the chain redeemed {on_chain['redeemed']}, more than the receipt's charged "
                               f"{self.charged} + reserved {self.reserved}")
