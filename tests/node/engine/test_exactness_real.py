"""Exactness on the real models: SmolLM2-135M (llama) and Gemma-3-270m (5 sliding : 1
global layers) split into spans give ``torch.equal`` logits against the whole model,
over a prefill and 8 greedy decode steps, unbatched and as a batch of sessions of
different lengths. Gemma's long prompt is longer than its 512-token sliding window.
(The fixtures verified every file's sha256 already: the loads here skip it.)"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import DynamicCache

from node.bench.scoring import english_text
from node.client import ClientModel
from node.engine import Span, SpanHost, StepRequest
from node.models.reference import greedy_reference, load_full_model

pytestmark = [pytest.mark.model, pytest.mark.slow]
STEPS = 8
RunSpans = Callable[..., list[torch.Tensor]]


def hosts_for(model_dir: Path, cuts: list[int]) -> list[SpanHost]:
    return [
        SpanHost(Span(model_dir, a, b, verify=False)) for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def assert_equal_runs(expected: list[torch.Tensor], got: list[torch.Tensor], what: str) -> None:
    assert len(expected) == len(got) == STEPS + 1
    for step, (a, b) in enumerate(zip(expected, got, strict=True)):
        assert torch.equal(a, b), (
            f"{what}: logits differ at step {step} (max {float((a - b).abs().max()):.3g})"
        )


def test_smollm2_spans_equal_the_full_model(smollm2_dir: Path, run_spans: RunSpans) -> None:
    full, client = (
        load_full_model(smollm2_dir, verify=False),
        ClientModel(smollm2_dir, verify=False),
    )
    prompts = [client.encode_chat([{"role": "user", "content": "What is the capital of France?"}])]
    expected, tokens = greedy_reference(full, prompts, STEPS)
    assert client.decode(tokens[0]).startswith("The capital of France is")
    for cuts in ([0, 10, 20, 30], [0, 3, 29, 30]):  # tiny models cover 1 and 2 spans too
        assert_equal_runs(
            expected,
            run_spans(client, hosts_for(smollm2_dir, cuts), prompts, tokens),
            f"spans {cuts}",
        )


def test_smollm2_batched_sessions_equal_the_full_model_batch(
    smollm2_dir: Path, run_spans: RunSpans
) -> None:
    full, client = (
        load_full_model(smollm2_dir, verify=False),
        ClientModel(smollm2_dir, verify=False),
    )
    questions = ["What is the capital of France?", "Name a prime number.", "Hi"]
    prompts = [client.encode_chat([{"role": "user", "content": q}]) for q in questions]
    assert len({len(p) for p in prompts}) == 3
    expected, tokens = greedy_reference(full, prompts, STEPS, last_only=True)
    got = run_spans(client, hosts_for(smollm2_dir, [0, 11, 30]), prompts, tokens, last_only=True)
    assert_equal_runs(expected, got, "batched spans [0, 11, 30]")


def gemma_prompt(client: ClientModel, length: int, offset: int = 0) -> list[int]:
    ids = client.encode(english_text())
    assert ids[0] == client.tokenizer.bos_token_id
    return [ids[0], *ids[1 + offset : offset + length]]


def stacked(config: object, caches: list[DynamicCache], lengths: list[int]) -> DynamicCache:
    """The full model's own caches of separately prefilled prompts, left-padded into
    one batch cache (written independently of the engine's kvcache.stack_caches)."""
    batch = DynamicCache(config=config)
    longest = max(lengths)
    for index, layer in enumerate(batch.layers):
        rows = [cache.layers[index] for cache in caches]
        size = max(row.keys.shape[2] for row in rows)
        pad = [
            lambda t, n=size: torch.nn.functional.pad(t, (0, 0, n - t.shape[2], 0)) for _ in rows
        ]
        keys = torch.cat([p(row.keys) for p, row in zip(pad, rows, strict=True)])
        values = torch.cat([p(row.values) for p, row in zip(pad, rows, strict=True)])
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        if hasattr(layer, "cumulative_length"):
            layer.cumulative_length = longest
    return batch


@torch.inference_mode()
def test_gemma3_spans_equal_the_full_model_past_the_window(gemma3_dir: Path) -> None:
    """One long prompt (530 > 512 tokens) unbatched, then the same session forked and
    decoded in a batch with a short session; the full model runs the same batch."""
    full, client = load_full_model(gemma3_dir, verify=False), ClientModel(gemma3_dir, verify=False)
    assert full.config.sliding_window == 512
    long, short = gemma_prompt(client, 530), gemma_prompt(client, 40, offset=100)
    hosts = hosts_for(gemma3_dir, [0, 5, 18])  # [0, 5) all sliding; block 5 is the first global

    def spans(sid: str, ids: list[int], position: int) -> torch.Tensor:
        hidden = client.embed(torch.tensor([ids]))
        for host in hosts:
            hidden = host.step(sid, hidden, position)
        return client.logits(hidden[:, -1:])

    def spans_batch(sids: list[str], ids: list[int], positions: list[int]) -> torch.Tensor:
        hiddens = [client.embed(torch.tensor([[i]])) for i in ids]
        for host in hosts:
            hiddens = host.step_batch(
                [StepRequest(*a) for a in zip(sids, hiddens, positions, strict=True)]
            )  # type: ignore[assignment]
        return client.logits(torch.cat(hiddens))

    # unbatched: prefill past the window, then 8 greedy steps
    cache_long = DynamicCache(config=full.config)
    out = full(input_ids=torch.tensor([long]), past_key_values=cache_long, logits_to_keep=1)
    after_prefill = copy.deepcopy(cache_long)
    for host in hosts:
        host.open("a", 600)
    assert torch.equal(out.logits, spans("a", long, 0)), "prefill of 530 tokens"
    for host in hosts:
        host.fork("a", "a2")
    first_long = int(out.logits[0, -1].argmax())
    for step in range(STEPS):
        token = int(out.logits[0, -1].argmax())
        out = full(input_ids=torch.tensor([[token]]), past_key_values=cache_long)
        assert torch.equal(out.logits, spans("a", [token], len(long) + step)), f"decode step {step}"

    # batched: the forked long session and a short one decode together
    cache_short = DynamicCache(config=full.config)
    out_short = full(input_ids=torch.tensor([short]), past_key_values=cache_short, logits_to_keep=1)
    for host in hosts:
        host.open("b", 600)
    assert torch.equal(out_short.logits, spans("b", short, 0)), "prefill of the short prompt"
    batch = stacked(full.config, [after_prefill, cache_short], [len(long), len(short)])
    mask = torch.ones(2, len(long), dtype=torch.long)
    mask[1, : len(long) - len(short)] = 0
    tokens = [first_long, int(out_short.logits[0, -1].argmax())]
    for step in range(STEPS):
        positions = [len(long) + step, len(short) + step]
        mask = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], dim=1)
        expected = full(
            input_ids=torch.tensor([[t] for t in tokens]), attention_mask=mask,
            position_ids=torch.tensor([[p] for p in positions]), past_key_values=batch,
        ).logits  # fmt: skip
        assert torch.equal(expected, spans_batch(["a2", "b"], tokens, positions)), (
            f"batched step {step}"
        )
        tokens = expected[:, -1].argmax(dim=-1).tolist()
    for host in hosts:
        assert host.stats()["sessions"] == 3
