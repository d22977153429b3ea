"""``POST /v1/completions`` (thin: validation by the protocol, logic in serving)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.deps import GatewayDep
from gateway.openai.completions.protocol import Completion, CompletionRequest
from gateway.openai.completions.serving import create_completion
from gateway.openai.errors_doc import ERROR_RESPONSES

router = APIRouter(tags=["openai"])


@router.post(
    "/v1/completions",
    response_model=Completion,
    responses={200: {"content": {"text/event-stream": {}}}, **ERROR_RESPONSES},
    summary="Text completion (SSE when stream=true)",
)
async def completions(
    body: CompletionRequest, request: Request, gateway: GatewayDep
) -> JSONResponse | StreamingResponse:
    return await create_completion(gateway, body, request)
