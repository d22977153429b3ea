"""Generation over any route: embed locally, step the route, sample locally."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from node.client.local import ClientModel
from node.engine.route import Route


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be ≥ 0 and top_p in (0, 1]")


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    """logits (V,) → one token id"""
    if params.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


def generate_tokens(
    client: ClientModel, route: Route, prompt_ids: list[int], params: SamplingParams
) -> Iterator[int]:
    """Yield new token ids until a stop token or ``max_new_tokens``."""
    generator = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
    stop = client.stop_token_ids()
    route.open(max_length=len(prompt_ids) + params.max_new_tokens)
    try:
        hidden = client.embed(torch.tensor([prompt_ids]))  # prefill: (1, T, H)
        for _ in range(params.max_new_tokens):
            token = sample(client.logits(route.step(hidden))[0, -1], params, generator)
            if token in stop:
                return
            yield token
            hidden = client.embed(torch.tensor([[token]]))  # decode: (1, 1, H)
    finally:
        route.close()


def chat(
    client: ClientModel, route: Route, messages: list[dict[str, str]], params: SamplingParams
) -> str:
    tokens = list(generate_tokens(client, route, client.encode_chat(messages), params))
    return str(client.tokenizer.decode(tokens, skip_special_tokens=True)).strip()
