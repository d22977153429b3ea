"""The OpenAPI document states what the gateway really accepts, so clients, SDK
generators and the fuzzer (tests/gateway/test_schemathesis.py) see the same contract the
server enforces:

- ``max_tokens`` / ``max_completion_tokens`` carry this gateway's cap as ``maximum``
  (``HELIO_GATEWAY_MAX_TOKENS_CAP``), not an open-ended integer;
- the generation endpoints declare the optional ``X-Helio-Voucher`` (a paid request,
  docs/api.md) and ``X-Helio-Contributor`` (a staked inferer's EIP-712 proof) headers and
  the ``X-Helio-Charged-Total`` response header;
- FastAPI's 422 is replaced by the 400 the error handlers really answer (OpenAI's shape),
  and an operation with a path parameter documents its 404 (an unknown channel, model).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from node.client.contributor import CONTRIBUTOR_HEADER
from node.client.vouchers import CHARGED_HEADER, VOUCHER_HEADER

GENERATION_PATHS = ("/v1/chat/completions", "/v1/completions")
_CAPPED_FIELDS = ("max_tokens", "max_completion_tokens")
_HEADERS = (
    (VOUCHER_HEADER, "a signed cumulative voucher: the request is paid (402 when refused)"),
    (CONTRIBUTOR_HEADER, "a staked inferer's EIP-712 proof for this gateway: contributor "
     "limits (403 when refused)"),
)  # fmt: skip


def document_real_limits(app: FastAPI, max_tokens_cap: int) -> None:
    """Make ``app.openapi()`` return the schema with the gateway's real limits in it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)  # fmt: skip
            _cap_max_tokens(schema, max_tokens_cap)
            _declare_headers(schema)
            _validation_errors_are_400(schema)
            _document_lookup_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _cap_max_tokens(schema: dict[str, Any], cap: int) -> None:
    for component in schema.get("components", {}).get("schemas", {}).values():
        for name in _CAPPED_FIELDS:
            field = component.get("properties", {}).get(name)
            if field is None:
                continue
            for option in field.get("anyOf", [field]):  # Optional[int] is anyOf int | null
                if option.get("type") == "integer":
                    option["maximum"] = cap


def _declare_headers(schema: dict[str, Any]) -> None:
    for path in GENERATION_PATHS:
        operation = schema.get("paths", {}).get(path, {}).get("post")
        if operation is None:
            continue
        parameters = operation.setdefault("parameters", [])
        for name, description in _HEADERS:
            parameters.append({"name": name, "in": "header", "required": False,
                               "description": description, "schema": {"type": "string"}})  # fmt: skip
        responses = operation.get("responses", {})
        if "200" in responses:
            responses["200"].setdefault("headers", {})[CHARGED_HEADER] = {
                "description": "the channel's charged total after a paid request",
                "schema": {"type": "string"},
            }


def _error(description: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/ErrorResponse"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _validation_errors_are_400(schema: dict[str, Any]) -> None:
    """FastAPI documents 422 for invalid input; gateway/errors.py answers 400 instead."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _error("invalid request"))


def _document_lookup_errors(schema: dict[str, Any]) -> None:
    """An operation that looks something up by a path parameter answers 404 for an
    unknown one (gateway/errors.py shape): say so."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                operation.get("responses", {}).setdefault("404", _error("not found"))
