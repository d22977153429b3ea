"""Batch redemption that one bad voucher cannot block: every ``interval_s`` the charged
total of each channel (under its latest voucher) is simulated on its own (``eth_call``
of a one-voucher batch); the ones the chain would refuse (an expired channel or voucher,
a channel another process redeemed, …) are set aside with the reason logged, and the
rest go on-chain in one transaction per ``MAX_BATCH`` (only the delta over the last
redemption moves)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from gateway.payments.channels import MemoryChannels
from gateway.payments.desk import PaymentDesk, Redemption

if TYPE_CHECKING:
    from gateway.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BATCH = 256  # Payments' _MAX_BATCH
SIMULATIONS_IN_FLIGHT = 8  # eth_calls at once: the simulations of a round overlap their RPC latency


class Redeemer(Protocol):
    def simulate(self, redemption: Redemption) -> str | None:
        """None if the chain would take ``redemption`` now, else why not (the revert)."""
        ...

    def redeem(self, redemptions: list[Redemption]) -> str | None:
        """Redeem all ``redemptions`` at once; the transaction hash (None off-chain)."""
        ...


class MemoryRedeemer:
    """No Payments contract: record the redemption in the memory channels."""

    def __init__(self, channels: MemoryChannels) -> None:
        self.channels = channels

    def simulate(self, redemption: Redemption) -> str | None:
        channel = self.channels.channel(redemption.channel)
        if channel is None:
            return f"unknown channel {redemption.channel}"
        if redemption.amount <= channel.redeemed:
            return f"nothing to redeem ({redemption.amount} ≤ redeemed {channel.redeemed})"
        return None

    def redeem(self, redemptions: list[Redemption]) -> str | None:
        for r in redemptions:
            self.channels.redeemed(r.channel, r.amount)
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
        self.set_aside: dict[int, str] = {}  # channel → why its last redemption was left out
        self.last_tx: str | None = None
        self.last_error: str | None = None

    def redeem_now(self) -> int:
        """Redeem what is pending (after checking what the chain really holds: a chain
        restarted from an older state forgets redemptions); how many vouchers went in.
        A chain that does not answer raises (the next round retries everything)."""
        self.desk.reconcile()
        good: list[Redemption] = []
        pending = self.desk.unredeemed()
        with ThreadPoolExecutor(SIMULATIONS_IN_FLIGHT) as pool:  # one eth_call each, overlapped
            reasons = list(pool.map(self.redeemer.simulate, pending))
        for r, reason in zip(pending, reasons, strict=True):
            if reason is None:
                good.append(r)
                continue
            self.desk.set_aside(r, reason)
            self.set_aside[r.channel] = reason
            log.warning("channel %d: redemption of %d set aside, the chain would refuse it: %s",
                        r.channel, r.amount, reason)
        for start in range(0, len(good), MAX_BATCH):
            batch = good[start:start + MAX_BATCH]
            self.last_tx = self.redeemer.redeem(batch)
            self.desk.mark_redeemed(batch)
            self.batches += 1
            self.vouchers_redeemed += len(batch)
            if self.metrics is not None:
                self.metrics.redeemed(len(batch))
            log.info("redeemed %d voucher(s) in one batch (tx %s)", len(batch), self.last_tx)
        return len(good)

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
