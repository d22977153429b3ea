"""``POST /v1/chat/completions``: apply the model's chat template, generate, answer in
OpenAI's shape (one JSON object, or SSE chunks when ``stream`` is true)."""

from __future__ import annotations

import time

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.errors import APIError
from gateway.generator import Delta
from gateway.openai.chat.protocol import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChoiceDelta,
    ChunkChoice,
)
from gateway.openai.common import Usage, new_id
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
from gateway.state import Gateway


async def create_chat_completion(
    gateway: Gateway, body: ChatCompletionRequest, request: Request
) -> JSONResponse | StreamingResponse:
    model = resolve_model(gateway, body.model)
    max_tokens = max_tokens_of(gateway, body, body.max_completion_tokens or body.max_tokens)
    messages = body.template_messages()
    checked = await precheck_prompt(gateway, request, model, max_tokens,
                                    sum(len(m["content"]) for m in messages), "messages")
    try:
        prompt_ids = await tokenize(lambda: model.client.encode_chat(messages))
    except ValueError as exc:
        raise APIError(400, str(exc), param="messages") from None
    prepared = await prepare(gateway, request, body, model, prompt_ids, max_tokens, checked)
    completion_id, created = new_id("chatcmpl"), int(time.time())

    if not body.stream:
        text, reason, count, headers = await run_to_end(gateway, request, prepared)
        result = ChatCompletion(
            id=completion_id, created=created, model=model.model_id,
            choices=[ChatChoice(message=AssistantMessage(content=text), finish_reason=reason)],
            usage=Usage(prompt_tokens=prepared.prompt_tokens, completion_tokens=count,
                        total_tokens=prepared.prompt_tokens + count),
        )
        return JSONResponse(result.model_dump(), headers=headers)

    def chunk(delta: Delta) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion_id, created=created, model=model.model_id,
            choices=[ChunkChoice(delta=ChoiceDelta(content=delta.text or None),
                                 finish_reason=delta.finish_reason)],
        )

    def usage_chunk(usage: Usage) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=completion_id, created=created, model=model.model_id,
                                   choices=[], usage=usage)

    first = ChatCompletionChunk(
        id=completion_id, created=created, model=model.model_id,
        choices=[ChunkChoice(delta=ChoiceDelta(role="assistant", content=""))],
    )
    events = stream_events(gateway, prepared, [sse(first)], chunk,
                           usage_chunk if body.include_usage() else None)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **prepared.ticket.headers(gateway)})
