"""The free tier: per-IP fair use on requests and on tokens per minute.

Built on ``limits`` (a well-kept rate-limiting library): its moving-window limiter keeps
the exact hits of the last minute per key, so a client never gets more than N requests or
T tokens in any 60 s window (a token bucket of size N refilled at N/min allows up to 2N
in a window). Requests count when admitted; tokens are checked before the work (the
request's worst case must fit in what is left) and charged with the actual count after.
Contributors (staked inferers, proven by ``X-Helio-Contributor``) get ``multiplier``
times the limits: the BitTorrent economy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from gateway.errors import APIError, rate_limited


@dataclass
class FreeTicket:
    tier: FreeTier
    key: str
    contributor: bool

    def settle(self, tokens: int) -> None:
        self.tier._charge_tokens(self.key, self.contributor, tokens)


class FreeTier:
    def __init__(self, requests_per_minute: int, tokens_per_minute: int, multiplier: int = 5) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._requests = {
            False: RateLimitItemPerMinute(requests_per_minute),
            True: RateLimitItemPerMinute(requests_per_minute * multiplier),
        }
        self._tokens = {
            False: RateLimitItemPerMinute(tokens_per_minute),
            True: RateLimitItemPerMinute(tokens_per_minute * multiplier),
        }
        self.refused = 0

    def limits(self, contributor: bool) -> tuple[int, int]:
        return self._requests[contributor].amount, self._tokens[contributor].amount

    def _retry_after(self, item: RateLimitItemPerMinute, *ids: str) -> int:
        stats = self._limiter.get_window_stats(item, *ids)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def check(self, key: str, contributor: bool, worst_tokens: int) -> None:
        """``admit``'s refusals without counting anything: run before a request's prompt is
        tokenized, so a client over its limits costs no tokenizer work."""
        self._check(key, contributor, worst_tokens)
        if not self._limiter.test(self._requests[contributor], "requests", key):
            raise self._over_requests(key, contributor)

    def admit(self, key: str, contributor: bool, worst_tokens: int) -> FreeTicket:
        """Count one request for ``key``; 429 if over either limit (nothing is counted then)."""
        self._check(key, contributor, worst_tokens)
        if not self._limiter.hit(self._requests[contributor], "requests", key):
            raise self._over_requests(key, contributor)
        return FreeTicket(self, key, contributor)

    def _over_requests(self, key: str, contributor: bool) -> APIError:
        self.refused += 1
        requests = self._requests[contributor]
        return rate_limited(
            f"free tier: over {requests.amount} requests per minute for {key}; retry later "
            "or pay with a voucher",
            self._retry_after(requests, "requests", key),
        )

    def _check(self, key: str, contributor: bool, worst_tokens: int) -> None:
        tokens = self._tokens[contributor]
        if worst_tokens > tokens.amount:
            raise APIError(
                400,
                f"this request may use {worst_tokens} tokens, more than the free tier's "
                f"{tokens.amount} per minute; lower max_tokens or pay with a voucher",
                code="free_tier_request_too_large",
                param="max_tokens",
            )
        if not self._limiter.test(tokens, "tokens", key, cost=worst_tokens):
            self.refused += 1
            raise rate_limited(
                f"free tier: over {tokens.amount} tokens per minute for {key}; retry later, "
                "lower max_tokens, or pay with a voucher",
                self._retry_after(tokens, "tokens", key),
            )

    def _charge_tokens(self, key: str, contributor: bool, tokens: int) -> None:
        item = self._tokens[contributor]
        left = self._limiter.get_window_stats(item, "tokens", key).remaining
        if (cost := min(tokens, left)) > 0:  # concurrent requests may overshoot by a little
            self._limiter.hit(item, "tokens", key, cost=cost)
