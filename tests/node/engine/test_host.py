"""SpanHost: sessions, explicit positions, validation of everything a peer sends, the
memory budget, timeouts, rollback. Every bad request raises a named error and the
host keeps serving its other sessions."""

from __future__ import annotations

import gc
import shutil
import time
import weakref
from pathlib import Path

import pytest
import torch

from node.core.errors import ConfigError, ModelCacheError
from node.core.manifest import Manifest
from node.engine import (
    EngineLimits,
    InvalidHiddenStatesError,
    InvalidRequestError,
    MemoryBudgetError,
    PositionMismatchError,
    SessionExistsError,
    SessionLengthError,
    Span,
    SpanHost,
    StepRequest,
    UnknownSessionError,
    error_from_code,
)
from node.models.errors import UnknownFamilyError

H = 64  # tiny models' hidden size


def hidden(tokens: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(1, tokens, H, generator=torch.Generator().manual_seed(seed)).to(dtype)


@pytest.fixture
def host(tiny_dirs: dict[str, Path]) -> SpanHost:
    return SpanHost(
        Span(tiny_dirs["llama"], 1, 3), EngineLimits(max_chunk_tokens=32, max_length=256)
    )


def test_host_rejects_bad_hidden_states_and_keeps_serving(host: SpanHost) -> None:
    host.open("good", 64)
    host.open("victim", 64)
    before = host.step("good", hidden(4), 0)
    bad = [
        (torch.zeros(1, 3, H + 1), "shape"),
        (torch.zeros(2, 3, H), "shape"),
        (torch.zeros(3, H), "shape"),
        (torch.zeros(1, 3, H, dtype=torch.float64), "dtype"),
        (torch.zeros(1, 3, H, dtype=torch.int32), "dtype"),
        (torch.zeros(1, 0, H), "carries"),
        (torch.zeros(1, 33, H), "carries"),
        (torch.full((1, 2, H), float("nan")), "NaN"),
        (torch.full((1, 2, H), float("inf")), "NaN"),
        ([[0.0] * H], "torch.Tensor"),
    ]
    for value, words in bad:
        with pytest.raises(InvalidHiddenStatesError, match=words):
            host.step("victim", value, 0)  # type: ignore[arg-type]
    assert host.session("victim").length == 0  # untouched by every rejected step
    # the other session goes on as if nothing happened
    again = host.step("good", hidden(1, seed=1), 4)
    assert again.shape == (1, 1, H) and before.shape == (1, 4, H)
    assert host.step("victim", hidden(2, dtype=torch.bfloat16), 0).dtype == torch.float32


def test_host_names_unknown_closed_and_expired_sessions(tiny_dirs: dict[str, Path]) -> None:
    host = SpanHost(Span(tiny_dirs["llama"], 0, 2), EngineLimits(session_timeout_s=0.05))
    with pytest.raises(UnknownSessionError, match="never opened"):
        host.step("nope", hidden(1), 0)
    host.open("a", 16)
    with pytest.raises(SessionExistsError):
        host.open("a", 16)
    host.close("a")
    host.close("a")  # idempotent
    with pytest.raises(UnknownSessionError, match="was closed"):
        host.step("a", hidden(1), 0)
    host.open("b", 16)
    time.sleep(0.1)
    assert host.sweep() == 1
    with pytest.raises(UnknownSessionError, match="expired after"):
        host.step("b", hidden(1), 0)
    for bad_id in ("", "x" * 129, "a/b", None, "sp ace"):
        with pytest.raises(InvalidRequestError, match="session id"):
            host.open(bad_id, 16)  # type: ignore[arg-type]


def test_host_enforces_max_length_and_positions(host: SpanHost) -> None:
    with pytest.raises(SessionLengthError, match="over this server's limit"):
        host.open("long", 257)
    with pytest.raises(InvalidRequestError):
        host.open("zero", 0)
    host.open("s", 8)
    host.step("s", hidden(6), 0)
    with pytest.raises(SessionLengthError, match="max_length 8"):
        host.step("s", hidden(3), 6)
    with pytest.raises(PositionMismatchError, match="holds 6 tokens"):
        host.step("s", hidden(1), 7)  # a gap
    with pytest.raises(InvalidRequestError):
        host.step("s", hidden(1), -1)
    assert host.session("s").length == 6


def test_retried_step_rolls_back_and_gives_the_same_answer(host: SpanHost) -> None:
    host.open("s", 32)
    host.step("s", hidden(5), 0)
    first = host.step("s", hidden(1, seed=9), 5)
    retried = host.step("s", hidden(1, seed=9), 5)  # the client lost the answer and retries
    assert torch.equal(first, retried) and host.session("s").length == 6
    other = host.step("s", hidden(2, seed=3), 3)  # speculative decoding: drop 3 tokens
    assert other.shape == (1, 2, H) and host.session("s").length == 5


def test_sliding_window_span_refuses_a_rollback_past_its_window(tiny_dirs: dict[str, Path]) -> None:
    host = SpanHost(Span(tiny_dirs["mistral"], 0, 2))  # window 8: keeps 7 tokens
    host.open("s", 64)
    host.step("s", hidden(5), 0)
    host.step("s", hidden(1), 4)  # still inside the window: fine
    host.step("s", hidden(10), 5)
    with pytest.raises(PositionMismatchError, match="sliding-window"):
        host.step("s", hidden(1), 10)
    assert host.session("s").length == 15


def test_memory_budget_refuses_then_evicts_idle_sessions(tiny_dirs: dict[str, Path]) -> None:
    span = Span(tiny_dirs["llama"], 0, 2)
    per_session = span.kv_bytes(100)
    # llama tiny: 2 layers x (k + v) x 2 kv heads x 16 dims x 4 bytes = 512 bytes a token
    assert per_session == 100 * 2 * 2 * 2 * 16 * 4
    host = SpanHost(
        span, EngineLimits(memory_budget_bytes=2 * per_session + 10, session_timeout_s=0.2)
    )
    host.open("a", 100)
    host.open("b", 100)
    assert host.stats()["reserved_bytes"] == 2 * per_session
    with pytest.raises(MemoryBudgetError, match="MiB of KV cache"):
        host.open("c", 100)
    host.step("a", hidden(3), 0)  # still works while c is refused
    time.sleep(0.25)
    host.step("a", hidden(1), 3)  # a stays busy, b goes idle
    host.open("c", 100)  # b was past its timeout: evicted to make room
    with pytest.raises(UnknownSessionError, match="expired"):
        host.step("b", hidden(1), 0)
    host.close("a")
    assert host.stats()["sessions"] == 1 and host.stats()["reserved_bytes"] == per_session


def test_sliding_layers_reserve_only_their_window(tiny_dirs: dict[str, Path]) -> None:
    span = Span(tiny_dirs["gemma3_text"], 0, 6)  # 5 sliding (window 8) + 1 global
    per_token = 2 * 1 * 16 * 4  # k + v, one kv head, head dim 16, fp32
    assert span.kv_bytes(1000) == per_token * (5 * 7 + 1000)


def test_step_batch_reports_errors_per_request(host: SpanHost) -> None:
    host.open("a", 32)
    host.open("b", 32)
    results = host.step_batch(
        [
            StepRequest("a", hidden(3), 0),
            StepRequest("ghost", hidden(3), 0),
            StepRequest("b", torch.zeros(1, 3, 7), 0),
            StepRequest("a", hidden(1), 3),  # a's second step waits for its first
        ]
    )
    assert isinstance(results[0], torch.Tensor) and isinstance(results[3], torch.Tensor)
    assert isinstance(results[1], UnknownSessionError)
    assert isinstance(results[2], InvalidHiddenStatesError)
    assert host.session("a").length == 4 and host.session("b").length == 0


def test_shutdown_frees_the_span_weights(tiny_dirs: dict[str, Path]) -> None:
    """What unloading a span relies on (an energy gate going offline, a move): once its
    host is shut down and dropped, nothing (the batching worker included) keeps the
    span's weights alive."""
    host = SpanHost(Span(tiny_dirs["llama"], 0, 2))
    span_ref = weakref.ref(host.span)
    host.open("s", 16)
    assert host.submit(StepRequest("s", hidden(3), 0)).result(timeout=30).shape == (1, 3, H)
    host.shutdown()
    assert host.stats()["sessions"] == 0
    del host
    gc.collect()
    assert span_ref() is None


def test_errors_cross_the_wire_by_code() -> None:
    error = PositionMismatchError("gap")
    rebuilt = error_from_code(error.code, str(error))
    assert type(rebuilt) is PositionMismatchError and str(rebuilt) == "gap"
    assert type(error_from_code("from-the-future", "x")).__name__ == "EngineError"


def test_span_loads_only_its_own_block_files(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    source = tiny_dirs["qwen2"]
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("manifest.json", "config.json", "block_002.safetensors", "block_003.safetensors"):
        shutil.copy(source / name, partial / name)
    span = Span(partial, 2, 4)  # the other blocks, embeddings and head are absent
    weights = sum(p.numel() * p.element_size() for p in span.parameters())
    files = sum((partial / f"block_00{i}.safetensors").stat().st_size for i in (2, 3))
    assert 0.95 * files < weights <= files  # memory ≈ its blocks (files add a small header)
    with pytest.raises(ModelCacheError, match="missing"):
        Span(partial, 1, 3)


def test_span_refuses_a_corrupt_block_and_an_unknown_family(
    tiny_dirs: dict[str, Path], tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_dirs["llama"], model)
    with open(model / "block_001.safetensors", "r+b") as f:
        f.seek(-3, 2)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ModelCacheError, match="block_001.safetensors is corrupt"):
        Span(model, 0, 2)
    Span(model, 2, 4)  # other blocks still load
    manifest = Manifest.load(model)
    manifest.model_copy(update={"family": "bert"}).save(model)
    with pytest.raises(UnknownFamilyError, match="'bert'.*model-porting"):
        Span(model, 2, 4)
    with pytest.raises(ConfigError, match="outside"):
        Span(tiny_dirs["llama"], 3, 9)
