"""The error responses every OpenAI endpoint documents in the OpenAPI spec."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid request"},
    402: {"model": ErrorResponse, "description": "voucher refused (payment_error; code names the check)"},
    403: {"model": ErrorResponse, "description": "bad contributor proof"},
    404: {"model": ErrorResponse, "description": "unknown model"},
    429: {"model": ErrorResponse, "description": "free tier over its limit (Retry-After)"},
    503: {"model": ErrorResponse, "description": "overloaded: no generation slot in time; "
          "at_capacity: the swarm's energy allows no more sessions now (nothing charged); "
          "swarm_unavailable: no route (all with Retry-After)"},
}
