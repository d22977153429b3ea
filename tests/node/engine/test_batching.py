"""Concurrent steps submitted to a host run as shared batched forwards, and give the
same tokens as running each session alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from node.client import ClientModel, SamplingParams, generate_tokens
from node.engine import EngineError, InProcessRoute, Span, SpanHost, StepRequest
from node.engine import batching as batching_mod


def test_concurrent_routes_share_forwards(
    tiny_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = tiny_dirs["qwen3"]
    client = ClientModel(model_dir)
    hosts = [SpanHost(Span(model_dir, 0, 2)), SpanHost(Span(model_dir, 2, 4))]
    sizes: list[int] = []
    real_run = batching_mod.run_group

    def counting(span, sessions, hiddens):  # type: ignore[no-untyped-def]
        sizes.append(len(sessions))
        return real_run(span, sessions, hiddens)

    monkeypatch.setattr("node.engine.host.run_group", counting)
    prompts = [[5 + i, 9, 17 + i, 3] for i in range(6)]
    params = SamplingParams(max_new_tokens=12)
    alone = [list(generate_tokens(client, InProcessRoute(hosts), p, params)) for p in prompts]
    sizes.clear()
    together: list[list[int]] = [[] for _ in prompts]
    barrier = threading.Barrier(len(prompts))

    def worker(i: int) -> None:
        barrier.wait()
        route = InProcessRoute(hosts, batching=True)
        together[i] = list(generate_tokens(client, route, prompts[i], params))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert together == alone  # padded batches pick the same greedy tokens here
    assert max(sizes) > 1, f"steps were never batched: {sizes}"
    assert sum(sizes) == 2 * len(prompts) * 12  # every step of every session, on both hosts
    for host in hosts:
        assert host.stats()["sessions"] == 0
        host.shutdown()


def test_submit_reports_errors_through_the_future(tiny_dirs: dict[str, Path]) -> None:
    host = SpanHost(Span(tiny_dirs["llama"], 0, 4))
    host.open("s", 8)
    ok = host.submit(StepRequest("s", torch.zeros(1, 2, 64), 0))
    bad = host.submit(StepRequest("s", torch.zeros(1, 2, 65), 2))
    assert ok.result(timeout=30).shape == (1, 2, 64)
    with pytest.raises(EngineError, match="shape"):
        bad.result(timeout=30)
    host.shutdown()
    with pytest.raises(EngineError, match="shut down"):
        host.submit(StepRequest("s", torch.zeros(1, 1, 64), 2)).result(timeout=30)


def test_mixed_prefill_and_decode_run_in_separate_groups(tiny_dirs: dict[str, Path]) -> None:
    host = SpanHost(Span(tiny_dirs["gemma3_text"], 0, 7))
    for sid in "abc":
        host.open(sid, 64)
    host.step("a", torch.randn(1, 10, 64), 0)
    results = host.step_batch(
        [
            StepRequest("a", torch.randn(1, 1, 64), 10),  # decode
            StepRequest("b", torch.randn(1, 12, 64), 0),  # prefill
            StepRequest("c", torch.randn(1, 3, 64), 0),  # prefill
        ]
    )
    assert [r.shape[1] for r in results] == [1, 12, 3]  # type: ignore[union-attr]
    assert [host.session(s).length for s in "abc"] == [11, 12, 3]
