"""Checks vouchers before any work and charges the actual tokens after it.

Per channel the desk keeps the highest voucher accepted, what was charged (actual tokens
× price) and what is reserved by requests still running. A request is admitted only if
its voucher is well-formed, for this gateway's chain and Payments contract, signed by the
channel's client, made out to this payee and this model, not about to expire, within the
channel's deposit, strictly above every voucher accepted before (no replay), and leaves
room for the request's worst case: ``cumulativeAmount − charged − reserved ≥ (input
tokens + max_tokens) × price``. Each refusal is a 402 ``payment_error`` whose ``code``
names the check (docs/api.md).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from gateway.errors import APIError, payment_error
from gateway.payments.channels import ChannelInfo, ChannelSource
from node.client.vouchers import SignedVoucher, VoucherFormatError
from node.crypto.eip712 import Domain, model_key

log = logging.getLogger(__name__)


@dataclass
class ChannelAccount:
    channel: int
    latest: SignedVoucher | None = None
    accepted: int = 0  # highest cumulativeAmount accepted
    charged: int = 0  # actual cost of finished requests
    reserved: int = 0  # worst case of requests still running
    redeemed: int = 0  # cumulativeAmount of the last voucher redeemed on-chain
    seen: set[bytes] = field(default_factory=set)  # voucher digests accepted


@dataclass
class PaidTicket:
    """One admitted paid request; ``settle`` charges what it actually used."""

    desk: PaymentDesk
    channel: int
    reserved: int
    settled: bool = False

    def settle(self, actual_cost: int) -> int:
        """Charge ``actual_cost`` (capped at the reservation); the channel's charged total."""
        return self.desk._settle(self, actual_cost)


class PaymentDesk:
    def __init__(
        self,
        domain: Domain,
        payee: str,
        channels: ChannelSource,
        price_per_token_wei: int,
        min_validity_s: int = 60,
    ) -> None:
        self.domain = domain
        self.payee = payee
        self.channels = channels
        self.price_per_token_wei = price_per_token_wei
        self.min_validity_s = min_validity_s
        self.accounts: dict[int, ChannelAccount] = {}
        self._lock = threading.Lock()

    def cost(self, tokens: int) -> int:
        return tokens * self.price_per_token_wei

    @staticmethod
    def decode(header: str) -> SignedVoucher:
        try:
            return SignedVoucher.decode(header)
        except VoucherFormatError as exc:
            raise APIError(400, str(exc), code="invalid_voucher", param="X-Helio-Voucher") from None

    def check(self, signed: SignedVoucher, model_id: str, now: float | None = None) -> None:
        """The checks that need no channel state (domain, signature, payee, model, expiry):
        run before energy admission too, so a bad voucher gets its 402 even when the
        swarm is full."""
        v = signed.voucher
        now = time.time() if now is None else now
        if (signed.chain_id, signed.verifying_contract) != (
            self.domain.chain_id, self.domain.verifying_contract,
        ):
            raise payment_error(
                "wrong_chain",
                f"the voucher is for chain {signed.chain_id} / Payments {signed.verifying_contract}; "
                f"this gateway takes chain {self.domain.chain_id} / Payments "
                f"{self.domain.verifying_contract} (GET /v1/payments)",
            )
        signer = v.recover(signed.signature, self.domain)
        if signer != v.client:
            raise payment_error(
                "bad_signature", f"the voucher is signed by {signer}, not by its client {v.client}"
            )
        if v.payee != self.payee:
            raise payment_error("wrong_payee", f"the voucher pays {v.payee}; this gateway is {self.payee}")
        if v.model_id != model_key(model_id):
            raise payment_error("wrong_model", f"the voucher is not for model '{model_id}'")
        if v.expiry < now + self.min_validity_s:
            raise payment_error(
                "voucher_expired",
                f"the voucher expires at {v.expiry}; it must stay valid ≥ {self.min_validity_s} s",
            )

    def admit(
        self, signed: SignedVoucher, channel: ChannelInfo | None, model_id: str, worst_tokens: int,
        now: float | None = None,
    ) -> PaidTicket:
        """Every check, then reserve the worst case. ``channel`` is what the chain (or the
        memory source) says about ``signed.voucher.channel``, read by the caller first."""
        v = signed.voucher
        now = time.time() if now is None else now
        self.check(signed, model_id, now)
        if channel is None or channel.closed or channel.client != v.client or channel.payee != self.payee:
            raise payment_error(
                "unknown_channel",
                f"channel {v.channel} is not an open channel from {v.client} to {self.payee}",
            )
        if v.cumulative_amount > channel.deposit:
            raise payment_error(
                "insufficient_deposit",
                f"the voucher's cumulativeAmount {v.cumulative_amount} exceeds the channel's "
                f"deposit {channel.deposit}; deposit more (helio wallet deposit)",
            )
        worst = self.cost(worst_tokens)
        digest = v.digest(self.domain)
        with self._lock:
            account = self.accounts.get(v.channel)
            if account is None:
                # First sight of this channel here (a new one, or this gateway restarted and
                # lost its memory): what the chain already paid out is spent, so a voucher
                # at or below it buys nothing.
                done = channel.redeemed
                account = self.accounts[v.channel] = ChannelAccount(
                    v.channel, accepted=done, charged=done, redeemed=done)
            if digest in account.seen:
                raise payment_error("voucher_replayed", "this voucher was already used; sign a new one")
            if v.cumulative_amount <= account.accepted:
                raise payment_error(
                    "voucher_not_increasing",
                    f"cumulativeAmount {v.cumulative_amount} is not above the last accepted "
                    f"{account.accepted} on channel {v.channel}",
                )
            room = v.cumulative_amount - account.charged - account.reserved
            if room < worst:
                need = account.charged + account.reserved + worst
                raise payment_error(
                    "voucher_too_small",
                    f"the voucher leaves {room} wei for this request but its worst case is {worst} "
                    f"wei ({worst_tokens} tokens × {self.price_per_token_wei}); sign "
                    f"cumulativeAmount ≥ {need} or lower max_tokens",
                )
            account.seen.add(digest)
            account.accepted = v.cumulative_amount
            account.latest = signed
            account.reserved += worst
        return PaidTicket(self, v.channel, worst)

    def _settle(self, ticket: PaidTicket, actual_cost: int) -> int:
        with self._lock:
            account = self.accounts[ticket.channel]
            if not ticket.settled:
                ticket.settled = True
                account.reserved -= ticket.reserved
                account.charged += min(max(actual_cost, 0), ticket.reserved)
            return account.charged

    def reconcile(self) -> int:
        """Compare each channel's redeemed amount with the chain's: where the chain holds less
        than this desk believes (the chain restarted from an older state, a reorg dropped the
        redemption), the latest voucher becomes unredeemed again. How many channels rolled back."""
        with self._lock:
            accounts = [a for a in self.accounts.values() if a.latest is not None and a.redeemed > 0]
        rolled_back = 0
        for account in accounts:
            info = self.channels.channel(account.channel)
            if info is None:  # the channel itself is gone: nothing to redeem it against
                continue
            on_chain = info.redeemed
            with self._lock:
                if on_chain < account.redeemed:
                    log.warning("channel %d: the chain holds %d redeemed, not %d; redeeming again",
                                account.channel, on_chain, account.redeemed)
                    account.redeemed = on_chain
                    rolled_back += 1
        return rolled_back

    def unredeemed(self) -> list[SignedVoucher]:
        """The latest voucher of each channel whose amount is above what was redeemed."""
        with self._lock:
            return [
                a.latest for a in self.accounts.values()
                if a.latest is not None and a.latest.voucher.cumulative_amount > a.redeemed
            ]

    def mark_redeemed(self, vouchers: list[SignedVoucher]) -> None:
        with self._lock:
            for signed in vouchers:
                account = self.accounts[signed.voucher.channel]
                account.redeemed = max(account.redeemed, signed.voucher.cumulative_amount)
