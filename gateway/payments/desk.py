"""Checks vouchers before any work and charges the actual tokens after it.

Per channel the desk keeps the highest voucher accepted, what was charged (actual tokens
× price) and what is reserved by requests still running. A request is admitted only if
its voucher is well-formed, for this gateway's chain and Payments contract, validly
signed by the channel's client, made out to this payee and this model, valid long enough
to be redeemed, on a channel that stays open long enough to redeem it (``margin_s``:
2 × the redeem interval + a grace, docs/gateway.md#payments), within the channel's
deposit, strictly above every voucher accepted before (no replay), and leaves room for
the request's worst case: ``cumulativeAmount − charged − reserved ≥ (input tokens +
max_tokens) × price``. Each refusal is a 402 ``payment_error`` whose ``code`` names the
check (docs/api.md).

The books are written through to a ``DeskStore`` (SQLite, payments/store.py) before the
admit or settle returns, so a killed gateway restarts with every voucher it served on.
What is redeemed is the *charged* total (``Redemption.amount``), not the latest voucher's
bound: the client pays what it was charged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from gateway.errors import APIError, payment_error
from gateway.payments.channels import ChannelInfo, ChannelSource
from gateway.payments.store import DeskStore
from node.client.receipts import ChannelReceipt
from node.client.vouchers import SignedVoucher, VoucherFormatError, VoucherSignatureError
from node.core.errors import ConfigError
from node.crypto.eip712 import Domain, model_key

log = logging.getLogger(__name__)

# secp256k1's order / 2: OpenZeppelin's ECDSA refuses a larger ``s`` (malleable
# signatures), so the gateway must refuse it too or it serves vouchers the chain rejects.
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@dataclass
class ChannelAccount:
    channel: int
    latest: SignedVoucher | None = None
    accepted: int = 0  # highest cumulativeAmount accepted
    charged: int = 0  # actual cost of finished requests
    reserved: int = 0  # worst case of requests still running
    redeemed: int = 0  # amount last redeemed on-chain
    aside: str | None = None  # why the redemption of ``latest`` was set aside (None: pending)
    seen: set[bytes] = field(default_factory=set)  # voucher digests accepted (this process)


@dataclass(frozen=True)
class Redemption:
    """Redeem ``amount`` (what was charged) under ``signed`` (whose bound is ≥ it)."""

    signed: SignedVoucher
    amount: int

    @property
    def channel(self) -> int:
        return self.signed.voucher.channel


@dataclass
class PaidTicket:
    """One admitted paid request; ``settle`` charges what it actually used."""

    desk: PaymentDesk
    channel: int
    reserved: int
    ticket_id: int = 0
    settled: bool = False
    served: int = 0  # cost of what was sent so far, as last written to the store
    _written_at: float = 0.0

    def settle(self, actual_cost: int) -> int:
        """Charge ``actual_cost`` (capped at the reservation); the channel's charged total."""
        return self.desk._settle(self, actual_cost)

    def progress(self, cost_so_far: int, every_s: float = 1.0) -> None:
        """What a stream has sent so far: written at its first token, then at most every
        ``every_s``, so a gateway killed mid-stream charges what it had served."""
        if self.settled or cost_so_far <= self.served:
            return
        now = time.monotonic()
        if self.served and now - self._written_at < every_s:
            return
        self.served, self._written_at = min(cost_so_far, self.reserved), now
        self.desk.store.served(self.ticket_id, self.served)


class PaymentDesk:
    def __init__(
        self,
        domain: Domain,
        payee: str,
        channels: ChannelSource,
        price_per_token_wei: int,
        min_validity_s: int = 60,
        store: DeskStore | None = None,
        margin_s: int = 0,
        payee_key: str | None = None,
    ) -> None:
        """``margin_s``: a channel (and a voucher) must stay redeemable this long after a
        request for the payee to redeem it: 2 × the redeem interval + a grace."""
        self.domain = domain
        self.payee = payee
        self.channels = channels
        self.price_per_token_wei = price_per_token_wei
        self.min_validity_s = max(min_validity_s, margin_s)
        self.margin_s = margin_s
        self.payee_key = payee_key  # signs channel receipts
        self.store = store or DeskStore()
        self._lock = threading.Lock()
        started = time.perf_counter()
        self.orphans_recovered = self.store.recover()
        self.accounts: dict[int, ChannelAccount] = {}
        for row in self.store.channels():
            self.accounts[row.channel] = ChannelAccount(
                row.channel, SignedVoucher.decode(row.latest) if row.latest else None,
                row.accepted, row.charged, 0, row.redeemed, row.aside)
        self.recovery_s = time.perf_counter() - started
        if self.accounts:
            log.info("payment desk %s: %d channel(s), %d interrupted request(s) charged what they "
                     "served, read back in %.1f ms", self.store.path, len(self.accounts),
                     self.orphans_recovered, self.recovery_s * 1000)

    def cost(self, tokens: int) -> int:
        return tokens * self.price_per_token_wei

    @staticmethod
    def decode(header: str) -> SignedVoucher:
        try:
            return SignedVoucher.decode(header)
        except VoucherSignatureError as exc:
            raise payment_error("bad_signature", str(exc)) from None
        except VoucherFormatError as exc:
            raise APIError(400, str(exc), code="invalid_voucher", param="X-Helio-Voucher") from None

    def _signer(self, signed: SignedVoucher) -> str:
        """The voucher's signer, or a 402 ``bad_signature`` for a signature no ECDSA
        recovery accepts (a bad ``v``, ``r``/``s`` out of range, all zeros, high ``s``)."""
        sig = signed.signature
        s_value, v_byte = int.from_bytes(sig[32:64], "big"), sig[64]
        if v_byte not in (27, 28) or s_value > _HALF_N:
            raise payment_error(
                "bad_signature", f"the voucher's signature is malformed (v={v_byte}, s "
                f"{'above' if s_value > _HALF_N else 'within'} secp256k1n/2): sign it again with "
                "an EIP-712 signer (node.client.vouchers.VoucherWallet)")
        try:
            return signed.voucher.recover(sig, self.domain)
        except Exception as exc:  # noqa: BLE001 (eth_keys raises several kinds for junk)
            raise payment_error(
                "bad_signature", f"the voucher's signature does not recover to any address "
                f"({type(exc).__name__}); sign it again") from None

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
        signer = self._signer(signed)
        if signer != v.client:
            raise payment_error(
                "bad_signature", f"the voucher's signature recovers to {signer}, not to its client "
                f"{v.client}: signed with another key, or damaged"
            )
        if v.payee != self.payee:
            raise payment_error("wrong_payee", f"the voucher pays {v.payee}; this gateway is {self.payee}")
        if v.model_id != model_key(model_id):
            raise payment_error("wrong_model", f"the voucher is not for model '{model_id}'")
        if v.expiry < now + self.min_validity_s:
            raise payment_error(
                "voucher_expired",
                f"the voucher expires at {v.expiry}; it must stay valid ≥ {self.min_validity_s} s "
                "so this gateway can redeem it",
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
        if channel.expires_at < now + self.margin_s:
            raise payment_error(
                "channel_expiring",
                f"channel {v.channel} expires at {channel.expires_at}; this gateway takes channels "
                f"redeemable ≥ {self.margin_s} s more (2 × its redeem interval + a grace). Extend it "
                "(helio wallet deposit 0 --channel N --hours H) or open a new one",
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
                # First sight of this channel here: what the chain already paid out is
                # spent, so a voucher at or below it buys nothing.
                done = channel.redeemed
                account = ChannelAccount(v.channel, accepted=done, charged=done, redeemed=done)
            if digest in account.seen or (account.latest is not None and account.latest.signature == signed.signature):
                raise payment_error("voucher_replayed", "this voucher was already used; sign a new one")
            if v.cumulative_amount <= account.accepted:
                raise payment_error(
                    "voucher_not_increasing",
                    f"cumulativeAmount {v.cumulative_amount} is not above the last accepted "
                    f"{account.accepted} on channel {v.channel}; resume from this gateway's "
                    f"receipt (GET /v1/payments/channels/{v.channel}, VoucherWallet.resume)",
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
            # Durable before the request runs: a crash after this still redeems it.
            ticket_id = self.store.accept(v.channel, v.cumulative_amount, account.charged,
                                          account.redeemed, signed.encode(), worst)
            self.accounts[v.channel] = account
            account.seen.add(digest)
            account.accepted = v.cumulative_amount
            account.latest = signed
            account.aside = None
            account.reserved += worst
        return PaidTicket(self, v.channel, worst, ticket_id)

    def _settle(self, ticket: PaidTicket, actual_cost: int) -> int:
        with self._lock:
            account = self.accounts[ticket.channel]
            if not ticket.settled:
                charged = account.charged + min(max(actual_cost, 0), ticket.reserved)
                self.store.settle(ticket.ticket_id, ticket.channel, charged)
                ticket.settled = True
                account.reserved -= ticket.reserved
                account.charged = charged
            return account.charged

    def reconcile(self) -> int:
        """Compare each channel's redeemed amount with the chain's: where the chain holds less
        than this desk believes (the chain restarted from an older state, a reorg dropped the
        redemption), the charged total becomes unredeemed again. How many channels rolled back."""
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
                    account.aside = None
                    self.store.redeemed(account.channel, on_chain)
                    rolled_back += 1
        return rolled_back

    def unredeemed(self) -> list[Redemption]:
        """Per channel, the charged total under the latest voucher where it is above what was
        redeemed, unless that redemption was set aside (until a new voucher comes)."""
        with self._lock:
            return [
                Redemption(a.latest, a.charged) for a in self.accounts.values()
                if a.latest is not None and a.charged > a.redeemed and a.aside is None
            ]

    def mark_redeemed(self, redemptions: list[Redemption]) -> None:
        with self._lock:
            for r in redemptions:
                account = self.accounts[r.channel]
                account.redeemed = max(account.redeemed, r.amount)
                self.store.redeemed(r.channel, account.redeemed)

    def set_aside(self, redemption: Redemption, reason: str) -> None:
        """The chain would refuse this redemption: keep it out of the batches (and say why)
        until the channel's next voucher."""
        with self._lock:
            self.accounts[redemption.channel].aside = reason
            self.store.set_aside(redemption.channel, reason)

    def receipt(self, channel: int) -> ChannelReceipt | None:
        """One channel's books signed by the payee (a wallet resumes from it); None for a
        channel this desk never saw."""
        if self.payee_key is None:
            raise ConfigError("this desk has no payee key to sign receipts with")
        with self._lock:
            a = self.accounts.get(channel)
            if a is None:
                return None
            unsigned = ChannelReceipt(
                channel, self.payee, self.domain.chain_id, self.domain.verifying_contract, a.accepted,
                a.charged, a.reserved, a.redeemed, a.latest.encode() if a.latest else None, int(time.time()))
        return unsigned.signed_by(self.payee_key)
