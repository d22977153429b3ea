"""A client that goes away cancels its generation and frees its span sessions."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from gwkit import MODEL, QUESTION

pytestmark = [pytest.mark.model, pytest.mark.slow]

MAX_TOKENS = 200


def _wait_idle(gw, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while gw.gateway.generator.active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gw.gateway.generator.active == 0, "the generation kept its sessions after the client left"


def test_stream_disconnect_cancels_generation(gw) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story about a cat."}],
            "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", json=body, timeout=120) as r:
        for line in r.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break  # got a real token: leave mid-stream
        assert gw.gateway.generator.active == 1
    _wait_idle(gw)
    assert gw.gateway.generator.tokens_generated < MAX_TOKENS


def test_non_stream_disconnect_cancels_generation(gw) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story about a dog."}],
            "max_tokens": MAX_TOKENS, "temperature": 0}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=httpx.Timeout(120, read=1.5))
    _wait_idle(gw)
    assert gw.gateway.generator.tokens_generated < MAX_TOKENS
    # the gateway still answers afterwards (slot released)
    reply = httpx.post(f"{gw.url}/v1/chat/completions", timeout=120,
                       json={"model": MODEL, "messages": QUESTION, "max_tokens": 2}).json()
    assert reply["usage"]["completion_tokens"] == 2
