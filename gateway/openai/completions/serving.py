"""``POST /v1/completions``: a plain prompt (text or token ids), no chat template."""

from __future__ import annotations

import time

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.errors import APIError
from gateway.generator import Delta
from gateway.openai.common import Usage, new_id
from gateway.openai.completions.protocol import Completion, CompletionChoice, CompletionRequest
from gateway.openai.generation import (
    max_tokens_of,
    precheck_prompt,
    prepare,
    resolve_model,
    run_to_end,
    sse,
    stream_events,
    tokenize,
)
from gateway.served_model import ServedModel
from gateway.state import Gateway


def prompt_ids_of(model: ServedModel, body: CompletionRequest) -> tuple[list[int], str]:
    """(token ids, prompt text for ``echo``)."""
    prompt = body.prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], int):
        ids = [int(t) for t in prompt]
        vocab = len(model.client.tokenizer)
        if max(ids) >= vocab:
            raise APIError(400, f"token id {max(ids)} is outside the vocabulary (size {vocab})", param="prompt")
        return ids, str(model.client.tokenizer.decode(ids))
    text = prompt if isinstance(prompt, str) else str(prompt[0])
    return model.encode_prompt(text), text


async def create_completion(
    gateway: Gateway, body: CompletionRequest, request: Request
) -> JSONResponse | StreamingResponse:
    model = resolve_model(gateway, body.model)
    max_tokens = max_tokens_of(gateway, body, body.max_tokens)
    size = len(body.prompt) if isinstance(body.prompt, str) else (
        len(body.prompt[0]) if isinstance(body.prompt[0], str) else 0)  # token ids: bounded by count
    checked = await precheck_prompt(gateway, request, model, max_tokens, size, "prompt")
    prompt_ids, prompt_text = await tokenize(lambda: prompt_ids_of(model, body))
    prepared = await prepare(gateway, request, body, model, prompt_ids, max_tokens, checked)
    completion_id, created = new_id("cmpl"), int(time.time())
    prefix = prompt_text if body.echo else ""

    if not body.stream:
        text, reason, count, headers = await run_to_end(gateway, request, prepared)
        result = Completion(
            id=completion_id, created=created, model=model.model_id,
            choices=[CompletionChoice(text=prefix + text, finish_reason=reason)],
            usage=Usage(prompt_tokens=prepared.prompt_tokens, completion_tokens=count,
                        total_tokens=prepared.prompt_tokens + count),
        )
        return JSONResponse(result.model_dump(), headers=headers)

    def chunk(delta: Delta) -> Completion:
        return Completion(id=completion_id, created=created, model=model.model_id,
                          choices=[CompletionChoice(text=delta.text, finish_reason=delta.finish_reason)])

    def usage_chunk(usage: Usage) -> Completion:
        return Completion(id=completion_id, created=created, model=model.model_id, choices=[], usage=usage)

    first = [sse(chunk(Delta(prefix, 0)))] if prefix else []
    events = stream_events(gateway, prepared, first, chunk, usage_chunk if body.include_usage() else None)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **prepared.ticket.headers(gateway)})
