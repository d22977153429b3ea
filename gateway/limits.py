"""Request body limits, enforced before the app reads anything: an ASGI middleware.

``BodyLimit`` answers 413 ``request_too_large`` (OpenAI's error shape) when a request
declares a ``Content-Length`` above ``max_bytes`` — without reading any of the body — and
counts what actually arrives (chunked or lying bodies included), answering 413 as soon as
the count passes the limit, without reading the rest. A body that does not arrive in full
within ``timeout_s`` (a slowloris client trickling bytes) gets 408 ``request_timeout``.
Both answers close the connection. The body read in full is handed to the app unchanged;
after it, ``receive`` is the server's own again (so disconnects are still seen).

No maintained ASGI body-limit package fits this stack (Starlette has none built in;
uvicorn bounds only headers), hence these few lines.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import APIError


class _Refused(Exception):
    def __init__(self, error: APIError) -> None:
        self.error = error


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def _too_large(self, size: str) -> APIError:
        return APIError(413, f"the request body is {size}; this gateway accepts at most "
                        f"{self.max_bytes} bytes (HELIO_GATEWAY_MAX_BODY_BYTES)", code="request_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        try:
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _Refused(self._too_large(f"{int(declared)} bytes (Content-Length)"))
            first = await self._read_body(receive)
        except _Refused as refused:
            await self._answer(send, refused.error)
            return
        if first is None:  # the client left while sending its body
            return
        pending: list[Message] = [first]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> Message | None:
        """The whole body as one ``http.request`` message; None if the client left."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return None  # http.disconnect
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _Refused(self._too_large(f"over {self.max_bytes} bytes"))
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise _Refused(APIError(
                408, f"the request body did not arrive within {self.timeout_s:g} s "
                "(HELIO_GATEWAY_BODY_TIMEOUT_S)", code="request_timeout")) from None
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    @staticmethod
    async def _answer(send: Send, error: APIError) -> None:
        response = error.response()
        response.headers["connection"] = "close"  # the rest of the body is never read
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
