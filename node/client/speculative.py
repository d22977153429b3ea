"""Speculative decoding over any rewindable route (the swarm's or the in-process one).

Each step the client drafts up to k tokens — by prompt lookup (``PromptLookup``: the
latest earlier place where the text's last n tokens occurred, n = 3, 2, 1: what followed
there is the draft) or with a draft model (``DraftModel``: a local low-bit copy of the
model, e.g. int8 spans in process, decoding greedily on its own rewindable route) — sends the last token and the draft through the route as one step, and reads the route's
prediction after every position. It keeps the draft up to the first token the model
would not have produced, plus the model's own token there; the route then rewinds past
the rejected tokens (every span rolls its KV cache back when the next step starts at the
lower position). Greedy output is plain decoding's, token for token: every kept token
is the one plain decoding picks after the same text (``sample`` with the same history).

k adapts: the expected tokens of a step with k drafts, (1 − αᵏ⁺¹)/(1 − α) at the measured
acceptance rate α, over its time, the measured one-token step time (round trip included)
plus the measured cost of each extra token, is maximised; a longer round trip makes
longer drafts pay.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Protocol, cast

import torch

from node.client.generate import PREFILL_CHUNK
from node.client.local import ClientModel
from node.client.sampling import SamplingParams, sample
from node.core.errors import ConfigError
from node.engine.route import RewindableRoute, Route

MAX_DRAFT = 8  # most drafted tokens per step
MAX_NGRAM = 3  # longest suffix looked up


def prompt_lookup(tokens: list[int], k: int, max_ngram: int = MAX_NGRAM) -> list[int]:
    """Up to ``k`` tokens that followed the latest earlier occurrence of the text's last
    n tokens (longest n first); [] when nothing matches."""
    if k <= 0:
        return []
    for n in range(min(max_ngram, len(tokens) - 1), 0, -1):
        tail = tokens[-n:]
        for start in range(len(tokens) - n - 1, -1, -1):
            if tokens[start : start + n] == tail:
                return tokens[start + n : start + n + k]
    return []


class Drafter(Protocol):
    def open(self, max_length: int) -> None: ...
    def draft(self, seen: list[int], k: int) -> list[int]: ...
    def close(self) -> None: ...


class PromptLookup:
    """Drafts by ``prompt_lookup``: free, good where the answer copies the prompt."""

    def open(self, max_length: int) -> None:
        pass

    def draft(self, seen: list[int], k: int) -> list[int]:
        return prompt_lookup(seen, k)

    def close(self) -> None:
        pass


class DraftModel:
    """Drafts with a local copy of the model (``route``: e.g. an ``InProcessRoute`` over
    int8 spans of the same model; ``client``: the same tokenizer, embeddings and head).
    Its route keeps a KV cache of the text; tokens the swarm rejected are rolled back
    before the next draft."""

    def __init__(self, client: ClientModel, route: Route) -> None:
        if not callable(getattr(route, "rewind", None)):
            raise ConfigError("a draft model needs a rewindable route (e.g. InProcessRoute)")
        self.client = client
        self.route = cast("RewindableRoute", route)
        self.held: list[int] = []  # the tokens its KV cache holds

    def open(self, max_length: int) -> None:
        self.route.open(max_length)
        self.held = []

    def draft(self, seen: list[int], k: int) -> list[int]:
        if k <= 0:
            return []
        keep = 0  # the draft cache's tokens that are still the text's
        while keep < min(len(self.held), len(seen)) and self.held[keep] == seen[keep]:
            keep += 1
        if keep < len(self.held):
            self.route.rewind(keep)
            self.held = self.held[:keep]
        hidden = self.route.step(self.client.embed(torch.tensor([seen[keep:]])))
        self.held = list(seen)
        drafts: list[int] = []
        while True:
            drafts.append(int(torch.argmax(self.client.logits(hidden[:, -1:])[0, -1])))
            if len(drafts) == k:
                return drafts
            hidden = self.route.step(self.client.embed(torch.tensor([[drafts[-1]]])))
            self.held.append(drafts[-1])

    def close(self) -> None:
        self.route.close()


@dataclass
class SpeculativeStats:
    steps: int = 0  # route steps after the prefill
    drafted: int = 0
    accepted: int = 0
    tokens: int = 0  # tokens produced
    k_history: list[int] = field(default_factory=list)

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


class DraftLength:
    """Chooses k from the measured acceptance rate and step times."""

    def __init__(self, max_draft: int = MAX_DRAFT, smoothing: float = 0.3) -> None:
        self.max_draft = max_draft
        self.smoothing = smoothing
        self.alpha = 0.5  # acceptance rate per drafted token (prior)
        self.base_ms: float | None = None  # one-token step
        self.per_token_ms = 0.0  # each extra token of a step

    def choose(self) -> int:
        if self.base_ms is None:
            return min(4, self.max_draft)
        alpha = min(self.alpha, 0.99)

        def rate(k: int) -> float:
            expected = (1 - alpha ** (k + 1)) / (1 - alpha)
            return expected / (self.base_ms + k * self.per_token_ms)  # type: ignore[operator]

        return max(range(self.max_draft + 1), key=rate)

    def observe(self, drafted: int, accepted: int, step_ms: float) -> None:
        s = self.smoothing
        if drafted:
            self.alpha = (1 - s) * self.alpha + s * accepted / drafted
        if drafted == 0 or self.base_ms is None:
            self.base_ms = step_ms if self.base_ms is None else (1 - s) * self.base_ms + s * step_ms
        if drafted:
            extra = max(step_ms - self.base_ms, 0.0) / drafted
            self.per_token_ms = (1 - s) * self.per_token_ms + s * extra


def generate_speculative(
    client: ClientModel, any_route: Route, prompt_ids: list[int], params: SamplingParams,
    *, max_draft: int = MAX_DRAFT, stats: SpeculativeStats | None = None,
    drafter: Drafter | None = None,
) -> Generator[int, None, None]:  # fmt: skip
    """Like ``generate_tokens`` (greedy only: a sampled token cannot be checked against a
    draft without changing the distribution), with ``drafter``'s drafts (default
    ``PromptLookup``) verified k at a time. Closing the iterator early closes the route."""
    if params.temperature > 0:
        raise ConfigError("speculative decoding is greedy only: use temperature 0")
    if not callable(getattr(any_route, "rewind", None)):
        raise ConfigError(f"{type(any_route).__name__} cannot roll back: speculative decoding needs a RewindableRoute")
    route = cast("RewindableRoute", any_route)
    if not prompt_ids:
        raise ValueError("the prompt is empty")
    stats = stats if stats is not None else SpeculativeStats()
    stop = client.stop_token_ids()
    seen = list(prompt_ids)
    lengths = DraftLength(max_draft)
    drafter = drafter or PromptLookup()
    max_length = len(prompt_ids) + params.max_new_tokens + max_draft + 1
    route.open(max_length=max_length)
    drafter.open(max_length)
    try:
        hidden = None
        for start in range(0, len(prompt_ids), PREFILL_CHUNK):
            hidden = route.step(client.embed(torch.tensor([prompt_ids[start : start + PREFILL_CHUNK]])))
        assert hidden is not None
        token = sample(client.logits(hidden[:, -1:])[0, -1], params, None, seen)
        while True:
            if token in stop:
                return
            yield token
            seen.append(token)
            stats.tokens += 1
            left = params.max_new_tokens - stats.tokens
            if left <= 0:
                return
            k = lengths.choose()
            started = time.perf_counter()  # drafting counts: a draft model costs time
            draft = drafter.draft(seen, min(k, left - 1))
            stats.k_history.append(len(draft))
            position = route.position
            hidden = route.step(client.embed(torch.tensor([[token, *draft]])))
            step_ms = (time.perf_counter() - started) * 1e3
            logits = client.logits(hidden)[0]  # (1 + len(draft), V)
            accepted, token = _verify(logits, draft, params, seen)
            stats.steps += 1
            stats.drafted += len(draft)
            stats.accepted += accepted
            lengths.observe(len(draft), accepted, step_ms)
            for kept in draft[:accepted]:
                if kept in stop:
                    return
                yield kept
                seen.append(kept)
                stats.tokens += 1
                if stats.tokens >= params.max_new_tokens:
                    return
            if accepted < len(draft):
                route.rewind(position + 1 + accepted)  # drop the rejected tokens' KV
    finally:
        drafter.close()
        route.close()


def _verify(logits: torch.Tensor, draft: list[int], params: SamplingParams,
            seen: list[int]) -> tuple[int, int]:
    """(drafted tokens kept, the model's token after them)."""
    history = list(seen)
    for index, drafted in enumerate(draft):
        choice = sample(logits[index], params, None, history)
        if choice != drafted:
            return index, choice
        history.append(drafted)
    return len(draft), sample(logits[len(draft)], params, None, history)
