"""``POST /v1/chat/completions`` (thin: validation by the protocol, logic in serving)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.deps import GatewayDep
from gateway.openai.chat.protocol import ChatCompletion, ChatCompletionRequest
from gateway.openai.chat.serving import create_chat_completion
from gateway.openai.errors_doc import ERROR_RESPONSES

router = APIRouter(tags=["openai"])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}, **ERROR_RESPONSES},
    summary="Chat completion (SSE when stream=true)",
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, gateway: GatewayDep
) -> JSONResponse | StreamingResponse:
    return await create_chat_completion(gateway, body, request)
