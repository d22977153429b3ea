"""The client over real in-process routes: SmolLM2 answers through three spans, stop
strings cut the text, seeds reproduce, codecs on the wire; Gemma-3 (base model) gets
its <bos> and needs bf16 on the wire."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from node.client import ClientModel, SamplingParams, chat, complete, generate_tokens, stream_text
from node.engine import CodecError, InProcessRoute, Span

pytestmark = [pytest.mark.model, pytest.mark.slow]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def smollm2(smollm2_dir: Path) -> tuple[ClientModel, list[Span]]:
    spans = [Span(smollm2_dir, a, b, verify=False) for a, b in ((0, 10), (10, 20), (20, 30))]
    return ClientModel(smollm2_dir, verify=False), spans


def test_chat_answers_through_three_spans(smollm2: tuple[ClientModel, list[Span]]) -> None:
    client, spans = smollm2
    answer = chat(client, InProcessRoute(spans), QUESTION, SamplingParams(max_new_tokens=16))
    assert answer == "The capital of France is Paris."


def test_stop_strings_cut_the_text_before_them(smollm2: tuple[ClientModel, list[Span]]) -> None:
    client, spans = smollm2
    params = SamplingParams(max_new_tokens=16, stop=(" Paris",))
    assert chat(client, InProcessRoute(spans), QUESTION, params) == "The capital of France is"
    pieces = list(stream_text(client, InProcessRoute(spans), client.encode_chat(QUESTION), params))
    assert "".join(pieces) == "The capital of France is" and len(pieces) > 1


def test_seeded_sampling_reproduces_and_routes_close(
    smollm2: tuple[ClientModel, list[Span]],
) -> None:
    client, spans = smollm2
    route = InProcessRoute(spans)
    params = SamplingParams(max_new_tokens=12, temperature=1.2, top_k=50, top_p=0.95, seed=5)
    prompt = client.encode_chat([{"role": "user", "content": "Write a word."}])
    first = list(generate_tokens(client, route, prompt, params))
    assert list(generate_tokens(client, route, prompt, params)) == first
    assert all(host.stats()["sessions"] == 0 for host in route.hosts)
    early = generate_tokens(client, route, prompt, params)
    next(early)
    early.close()  # a client that stops reading frees the sessions
    assert all(host.stats()["sessions"] == 0 for host in route.hosts)


@pytest.mark.parametrize("codec", ["fp16", "bf16", "int8-blockwise"])
def test_compressed_wire_still_answers(smollm2: tuple[ClientModel, list[Span]], codec: str) -> None:
    client, spans = smollm2
    route = InProcessRoute(spans, codec=codec)
    assert "Paris" in chat(client, route, QUESTION, SamplingParams(max_new_tokens=16))


def test_gemma3_completes_with_bos_and_refuses_fp16_on_the_wire(gemma3_dir: Path) -> None:
    client = ClientModel(gemma3_dir, verify=False)
    spans = [Span(gemma3_dir, 0, 9, verify=False), Span(gemma3_dir, 9, 18, verify=False)]
    assert client.family.wire_codec == "bf16"
    prompt = "Question: What is the capital of France?\nAnswer:"
    assert client.encode(prompt)[0] == client.tokenizer.bos_token_id
    params = SamplingParams(max_new_tokens=4)
    assert (
        complete(client, InProcessRoute(spans, codec="bf16"), prompt, params)
        .strip()
        .startswith("Paris")
    )
    with pytest.raises(CodecError, match="use the bf16 codec"):
        complete(client, InProcessRoute(spans, codec="fp16"), prompt, params)


def test_an_int8_head_still_answers_and_stays_opt_in(smollm2_dir: Path) -> None:
    """``quantize_head``: a quarter of the head's bytes, logits close to fp32's; a fresh
    client keeps the float head (the exactness tests rely on it)."""
    client = ClientModel(smollm2_dir, verify=False)
    spans = [Span(smollm2_dir, 0, 30, verify=False)]
    assert type(client.lm_head).__name__ == "Linear"
    hidden = InProcessRoute(spans)
    hidden.open(64)
    states = hidden.step(client.embed(torch.tensor([client.encode("The capital of France is")])))
    hidden.close()
    reference = client.logits(states)
    client.quantize_head()
    assert type(client.lm_head).__name__ == "Int8Linear"
    assert client.embed_tokens.weight.dtype == torch.float32  # tied embeddings stay float
    quantized = client.logits(states)
    assert (quantized - reference).abs().max() < 0.05 * reference.abs().max()
    assert torch.equal(quantized[0, -1].argmax(), reference[0, -1].argmax())
    answer = chat(client, InProcessRoute(spans), QUESTION, SamplingParams(max_new_tokens=16))
    assert answer == "The capital of France is Paris."
