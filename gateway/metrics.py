"""Counters the dashboard and ``/health`` show: requests per minute, tokens, refusals."""

from __future__ import annotations

import time
from collections import Counter, deque


class Metrics:
    def __init__(self) -> None:
        self._recent: deque[float] = deque()  # request times of the last minute
        self.requests = Counter[str]()  # by tier: free / paid / contributor
        self.errors = Counter[int]()  # by status
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._token_times: deque[tuple[float, int]] = deque()  # (time, completion tokens)

    def request(self, tier: str) -> None:
        self.requests[tier] += 1
        self._recent.append(time.time())

    def error(self, status: int) -> None:
        self.errors[status] += 1

    def tokens(self, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self._token_times.append((time.time(), completion))

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0] < now - 60:
            self._recent.popleft()
        while self._token_times and self._token_times[0][0] < now - 60:
            self._token_times.popleft()

    def requests_per_minute(self) -> int:
        self._trim(time.time())
        return len(self._recent)

    def tokens_per_minute(self) -> int:
        self._trim(time.time())
        return sum(n for _, n in self._token_times)

    def snapshot(self) -> dict[str, object]:
        return {
            "requests_per_minute": self.requests_per_minute(),
            "completion_tokens_per_minute": self.tokens_per_minute(),
            "requests": dict(self.requests),
            "errors": {str(k): v for k, v in self.errors.items()},
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
