"""Generation over any route: embed locally, step the route, sample locally."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import torch

from node.client.detok import Detokenizer
from node.client.local import ClientModel
from node.client.sampling import SamplingParams, sample
from node.engine.route import Route

PREFILL_CHUNK = 1024  # longer prompts are sent in chunks of this many tokens
Generate = Callable[[ClientModel, Route, list[int], SamplingParams], Generator[int, None, None]]


def generate_tokens(
    client: ClientModel, route: Route, prompt_ids: list[int], params: SamplingParams
) -> Generator[int, None, None]:
    """Yield new token ids until a stop token or ``max_new_tokens``. Closing the
    iterator early closes the route (frees the span sessions)."""
    if not prompt_ids:
        raise ValueError("the prompt is empty")
    generator = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
    stop = client.stop_token_ids()
    seen = list(prompt_ids)
    route.open(max_length=len(prompt_ids) + params.max_new_tokens)
    try:
        hidden = None
        for start in range(0, len(prompt_ids), PREFILL_CHUNK):  # prefill
            chunk = torch.tensor([prompt_ids[start : start + PREFILL_CHUNK]])
            hidden = route.step(client.embed(chunk))
        assert hidden is not None
        for produced in range(1, params.max_new_tokens + 1):
            token = sample(client.logits(hidden[:, -1:])[0, -1], params, generator, seen)
            if token in stop:
                return
            yield token
            if produced == params.max_new_tokens:
                return  # no forward for a token nobody will read
            seen.append(token)
            hidden = route.step(client.embed(torch.tensor([[token]])))  # decode: (1, 1, H)
    finally:
        route.close()


def stream_text(
    client: ClientModel, route: Route, prompt_ids: list[int], params: SamplingParams,
    *, generate: Generate | None = None,
) -> Iterator[str]:
    """Yield text pieces; stops before the first of ``params.stop`` (never emitted).
    ``generate``: the token generator (default ``generate_tokens``; e.g.
    ``node.client.speculative.generate_speculative``)."""
    detok = Detokenizer(client.decode, params.stop)
    generation = (generate or generate_tokens)(client, route, prompt_ids, params)
    try:
        for token in generation:
            if text := detok.push(token):
                yield text
            if detok.stopped:
                return
        if text := detok.flush():
            yield text
    finally:
        generation.close()


def complete(client: ClientModel, route: Route, prompt: str, params: SamplingParams) -> str:
    """Continue a plain prompt (base models such as Gemma-3-270m)."""
    return "".join(stream_text(client, route, client.encode(prompt), params))


def chat(
    client: ClientModel, route: Route, messages: list[dict[str, str]], params: SamplingParams
) -> str:
    """Answer a conversation (instruct models with a chat template)."""
    return "".join(stream_text(client, route, client.encode_chat(messages), params)).strip()
