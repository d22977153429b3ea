"""Batch redemption: every ``interval_s`` the latest unredeemed voucher of each channel
goes on-chain in one transaction (only the delta over the last redemption moves)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from gateway.payments.channels import MemoryChannels
from gateway.payments.desk import PaymentDesk
from node.client.vouchers import SignedVoucher

if TYPE_CHECKING:
    from gateway.metrics import Metrics

log = logging.getLogger(__name__)


class Redeemer(Protocol):
    def redeem(self, vouchers: list[SignedVoucher]) -> str | None:
        """Redeem all ``vouchers`` at once; the transaction hash (None off-chain)."""
        ...


class MemoryRedeemer:
    """No Payments contract: record the redemption in the memory channels."""

    def __init__(self, channels: MemoryChannels) -> None:
        self.channels = channels

    def redeem(self, vouchers: list[SignedVoucher]) -> str | None:
        for signed in vouchers:
            self.channels.redeemed(signed.voucher.channel, signed.voucher.cumulative_amount)
        return None


class RedeemLoop:
    def __init__(self, desk: PaymentDesk, redeemer: Redeemer, interval_s: float,
                 metrics: Metrics | None = None) -> None:
        self.desk = desk
        self.metrics = metrics
        self.redeemer = redeemer
        self.interval_s = interval_s
        self.batches = 0
        self.vouchers_redeemed = 0
        self.last_tx: str | None = None
        self.last_error: str | None = None

    def redeem_now(self) -> int:
        """Redeem what is pending (after checking what the chain really holds: a chain
        restarted from an older state forgets redemptions); how many vouchers went in."""
        self.desk.reconcile()
        vouchers = self.desk.unredeemed()
        if not vouchers:
            return 0
        self.last_tx = self.redeemer.redeem(vouchers)
        self.desk.mark_redeemed(vouchers)
        self.batches += 1
        self.vouchers_redeemed += len(vouchers)
        if self.metrics is not None:
            self.metrics.redeemed(len(vouchers))
        log.info("redeemed %d voucher(s) in one batch (tx %s)", len(vouchers), self.last_tx)
        return len(vouchers)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.redeem_now)
                self.last_error = None
            except Exception as exc:  # keep the loop alive; the next batch retries
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self.metrics is not None:
                    self.metrics.redeem_failed()
                log.warning("voucher redemption failed (will retry): %s", self.last_error)
