"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Every error the gateway answers goes through ``APIError`` (or one of the handlers below
that turn FastAPI's own errors into it), so clients such as the official ``openai`` SDK
raise the matching ``openai.*Error`` with our message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.core.errors import HeliomeshError

log = logging.getLogger(__name__)


class APIError(HeliomeshError):
    """An error answered to the client with ``status`` in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def model_not_found(model: str, available: list[str]) -> APIError:
    return APIError(
        404,
        f"The model '{model}' does not exist or is not served here; "
        f"available: {', '.join(available) or 'none'} (GET /v1/models)",
        code="model_not_found",
        param="model",
    )


def rate_limited(message: str, retry_after_s: int) -> APIError:
    return APIError(
        429,
        message,
        type="rate_limit_error",
        code="rate_limit_exceeded",
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


def at_capacity(message: str, retry_after_s: int) -> APIError:
    """The swarm's energy allows no more sessions now (nothing was charged)."""
    return APIError(
        503,
        f"{message}; nothing was charged. Retry in {retry_after_s} s, or run an inferer: the "
        "swarm grows with its volunteers",
        type="server_error",
        code="at_capacity",
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


def payment_error(code: str, message: str, status: int = 402) -> APIError:
    """A refused voucher; ``code`` names the check that failed (docs/api.md)."""
    return APIError(status, message, type="payment_error", code=code, param="X-Helio-Voucher")


def _union_tag(part: object) -> bool:
    """A union member's tag in an error's location (``constrained-str``, ``list[int]``)."""
    return isinstance(part, str) and (part.startswith("constrained-") or "[" in part
                                      or part in {"str", "int", "float", "bool", "none"})


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request body", None
    # For a union (``stop``: a string or a list), the member the value was meant for is the
    # one whose error is not a type mismatch (e.g. a list too long, not "not a string").
    mismatch = ("_type", "_parsing")
    first = next((e for e in errors if not str(e.get("type", "")).endswith(mismatch)), errors[0])
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and not _union_tag(p)]
    param = ".".join(loc) or None
    where = f" at '{param}'" if param else ""
    return f"Invalid request{where}: {first.get('msg', 'invalid value')}", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return APIError(400, message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"Unknown path {request.url.path}; see /docs for the API"
        return APIError(exc.status_code, message, type=kind, code=code).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return APIError(
            500, f"internal error: {type(exc).__name__}", type="server_error", code="internal_error"
        ).response()
