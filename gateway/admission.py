"""Who pays for a request, decided before any work: a voucher (``X-Helio-Voucher``) makes
it a paid request; otherwise it is free and counted against the client IP's fair-use
limits, raised for contributors (``X-Helio-Contributor`` from a staked inferer)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request

from gateway.errors import APIError
from gateway.payments.desk import PaidTicket
from gateway.ratelimit import FreeTicket
from gateway.settings import COST_HEADER
from gateway.state import Gateway
from node.client.contributor import CONTRIBUTOR_HEADER, recover_contributor
from node.client.vouchers import (
    CHARGED_HEADER,
    VOUCHER_HEADER,
    SignedVoucher,
)
from node.core.errors import ConfigError


@dataclass
class Ticket:
    tier: str  # "paid" | "free" | "contributor"
    paid: PaidTicket | None = None
    free: FreeTicket | None = None

    def headers(self, gateway: Gateway) -> dict[str, str]:
        """Headers sent with the response before the actual cost is known: for a paid
        request, the charged total including this request's worst case (an upper bound
        the client can build its next voucher on)."""
        if self.paid is None:
            return {}
        account = gateway.desk.accounts[self.paid.channel]
        return {CHARGED_HEADER: str(account.charged + account.reserved)}

    def settle(self, gateway: Gateway, prompt_tokens: int, completion_tokens: int) -> dict[str, str]:
        used = prompt_tokens + completion_tokens
        if self.paid is not None:
            cost = gateway.desk.cost(used)
            total = self.paid.settle(cost)
            return {CHARGED_HEADER: str(total), COST_HEADER: str(cost)}
        if self.free is not None:
            self.free.settle(used)
        return {}

    def progress(self, gateway: Gateway, prompt_tokens: int, completion_tokens: int) -> None:
        """A stream's tokens sent so far (written to the desk now and then: a gateway
        killed mid-stream charges what it had served)."""
        if self.paid is not None and completion_tokens:
            self.paid.progress(gateway.desk.cost(prompt_tokens + completion_tokens))

    def cancel(self, gateway: Gateway) -> None:
        """The request failed before producing anything: charge nothing."""
        if self.paid is not None and not self.paid.settled:
            self.paid.settle(0)
        elif self.free is not None:
            self.free.settle(0)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass
class Checked:
    """What ``precheck`` learned about who pays; ``admit`` goes on from it."""

    signed: SignedVoucher | None = None  # a paid request's voucher (stateless checks passed)
    contributor: bool = False  # a free request proven to come from a staked inferer


async def precheck(gateway: Gateway, request: Request, model_id: str, max_tokens: int) -> Checked:
    """Admission's checks that need no prompt tokens, run before the prompt is templated
    and tokenized (and before the request waits for energy): a voucher's stateless checks
    (format, domain, signature, payee, model, expiry: a bad voucher gets 400/402 at once,
    never a 503 ``at_capacity`` that would send the client to retry it later); for a free
    request, the contributor proof and the free tier's windows (429 if the client is over
    its requests, or has fewer tokens left than ``max_tokens``). Nothing is counted here."""
    if header := request.headers.get(VOUCHER_HEADER):
        signed = gateway.desk.decode(header)
        gateway.desk.check(signed, model_id)
        return Checked(signed=signed)
    contributor = False
    if proof := request.headers.get(CONTRIBUTOR_HEADER):
        try:
            # EIP-712, for this gateway (its payee address) on this chain, short-lived.
            address = recover_contributor(proof, gateway.desk.payee, gateway.desk.domain.chain_id)
        except ConfigError as exc:
            raise APIError(403, str(exc), type="permission_error", code="bad_contributor_proof",
                           param=CONTRIBUTOR_HEADER) from None
        if not await asyncio.to_thread(gateway.stakes.is_active, address):
            raise APIError(403, f"{address} has no active stake; contributor limits are for "
                           "staked inferers", type="permission_error", code="not_a_contributor",
                           param=CONTRIBUTOR_HEADER)
        contributor = True
    gateway.free_tier.check(client_key(request), contributor, max_tokens)
    return Checked(contributor=contributor)


async def admit(gateway: Gateway, request: Request, model_id: str, worst_tokens: int,
                checked: Checked) -> Ticket:
    """Count (free) or reserve (paid) the request's worst case, its prompt now tokenized."""
    if checked.signed is not None:
        signed = checked.signed
        channel = await asyncio.to_thread(gateway.desk.channels.channel, signed.voucher.channel)
        ticket = Ticket("paid", paid=gateway.desk.admit(signed, channel, model_id, worst_tokens))
    else:
        free = gateway.free_tier.admit(client_key(request), checked.contributor, worst_tokens)
        ticket = Ticket("contributor" if checked.contributor else "free", free=free)
    gateway.metrics.request(ticket.tier, model_id)
    return ticket
