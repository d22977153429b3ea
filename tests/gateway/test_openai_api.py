"""The official ``openai`` SDK against a running gateway with the real SmolLM2."""

from __future__ import annotations

import httpx
import openai
import pytest
from gwkit import MODEL, QUESTION

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_models_list_and_get(gw) -> None:
    client = gw.openai()
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("no-such-model")
    assert err.value.body["code"] == "model_not_found"


def test_chat_answers_paris_with_usage(gw) -> None:
    reply = gw.openai().chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=12)
    assert "Paris" in reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_stream_equals_non_stream(gw) -> None:
    client = gw.openai()
    whole = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=12)
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=QUESTION, temperature=0, max_tokens=12, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 2  # really streamed


def test_raw_sse_ends_with_done(gw) -> None:
    body = {"model": MODEL, "messages": QUESTION, "max_tokens": 3, "stream": True, "temperature": 0}
    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", json=body, timeout=120) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_completions_plain_echo_and_token_ids(gw) -> None:
    client = gw.openai()
    plain = client.completions.create(model=MODEL, prompt="The capital of France is", temperature=0, max_tokens=3)
    assert plain.choices[0].finish_reason == "length" and plain.usage.completion_tokens == 3
    assert "Paris" in plain.choices[0].text
    echoed = client.completions.create(model=MODEL, prompt="The capital of France is", temperature=0,
                                       max_tokens=3, echo=True)
    assert echoed.choices[0].text == "The capital of France is" + plain.choices[0].text
    ids = gw.gateway.models[MODEL].encode_prompt("The capital of France is")
    by_ids = client.completions.create(model=MODEL, prompt=ids, temperature=0, max_tokens=3)
    assert by_ids.choices[0].text == plain.choices[0].text


def test_stop_string_cuts_the_answer(gw) -> None:
    reply = gw.openai().chat.completions.create(model=MODEL, messages=QUESTION, temperature=0,
                                                max_tokens=12, stop=[" is"])
    assert reply.choices[0].message.content == "The capital of France"
    assert reply.choices[0].finish_reason == "stop"


def test_seeded_sampling_is_reproducible(gw) -> None:
    client = gw.openai()
    texts = {client.completions.create(model=MODEL, prompt="Once upon a time", temperature=1.0,
                                       seed=7, max_tokens=6).choices[0].text for _ in range(2)}
    assert len(texts) == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL}, "messages"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"model": MODEL, "messages": QUESTION, "temperature": 3}, "temperature"),
        ({"model": MODEL, "messages": QUESTION, "n": 2}, "n"),
        ({"model": MODEL, "messages": QUESTION, "max_tokens": 0}, "max_tokens"),
        ({"model": MODEL, "messages": QUESTION, "max_tokens": 100_000}, "max_tokens"),
    ],
)
def test_bad_body_is_400_in_openai_shape(gw, body, param) -> None:
    r = httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_sdk_errors_bad_model_404_bad_body_400(gw) -> None:
    client = gw.openai()
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert missing.value.status_code == 404 and "smollm2-135m-instruct" in missing.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=QUESTION, top_p=0)
    assert bad.value.body["param"] == "top_p"


def test_context_length_and_unknown_path(gw) -> None:
    long_prompt = "word " * 9000
    r = httpx.post(f"{gw.url}/v1/completions", json={"model": MODEL, "prompt": long_prompt, "max_tokens": 4},
                   timeout=60)
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    r = httpx.get(f"{gw.url}/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_health_and_openapi(gw) -> None:
    assert httpx.get(f"{gw.url}/health").json()["status"] == "ok"
    spec = httpx.get(f"{gw.url}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health"} <= set(spec["paths"])
