"""Fingerprints: honest noise (threads, batch padding) passes, every adversary is caught,
and a liar cannot choose a fingerprint that passes for a wrong output."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from node.bench.verify import honest_checks, run_sessions
from node.engine import Span
from node.engine.fingerprint import (
    MAX_POSITIONS,
    Fingerprint,
    FingerprintError,
    Tolerance,
    agree,
    check,
    chosen_positions,
    fingerprint,
    tolerance_for,
    wire_tolerance,
)
from node.inferer.adversary import MODES, Adversary

TOL = tolerance_for(None)


@pytest.fixture(scope="module")
def span(tiny_dirs: dict[str, Path]) -> Span:
    return Span(tiny_dirs["llama"], 0, 4)


def _sessions(hidden: int, count: int = 3, decode: int = 3, seed: int = 0
              ) -> tuple[dict[str, torch.Tensor], dict[str, list[torch.Tensor]]]:
    gen = torch.Generator().manual_seed(seed)
    prompts = {f"{i:064x}": torch.randn(1, 3 + 5 * i, hidden, generator=gen) for i in range(count)}
    steps = {sid: [torch.randn(1, 1, hidden, generator=gen) for _ in range(decode)] for sid in prompts}
    return prompts, steps


def test_fingerprint_round_trips_and_has_the_documented_size() -> None:
    hidden = torch.randn(1, 3, 64)
    fp = fingerprint(hidden)
    blob = fp.to_bytes()
    assert len(blob) == 4 + 3 * (3 + 4 * 4)
    again = Fingerprint.from_bytes(blob, hidden_size=64, tokens=3)
    assert again.positions == fp.positions and torch.equal(again.indices, fp.indices)
    assert torch.equal(again.values, fp.values)
    assert len(fingerprint(torch.randn(1, 1, 576)).to_bytes()) == 23  # one decode step
    assert len(chosen_positions(2048)) == MAX_POSITIONS and chosen_positions(2048)[-1] == 2047


@pytest.mark.parametrize("mangle", [
    lambda b: b[:3],  # truncated header
    lambda b: bytes([1]) + b[1:],  # the old version (float16 values clamped at 65,504)
    lambda b: b + b"\0",  # trailing byte
    lambda b: b[:7] + b[11:15] + b[7:11] + b[15:],  # coordinates out of order
    lambda b: b[:6] + bytes([b[6] + 1]) + b[7:],  # an exponent larger than the values need
    lambda b: b[:6] + bytes([250]) + b[7:],  # an absurd exponent
])
def test_malformed_fingerprints_are_refused_with_a_reason(mangle: object) -> None:
    blob = fingerprint(torch.randn(1, 2, 64)).to_bytes()
    with pytest.raises(FingerprintError):
        Fingerprint.from_bytes(mangle(blob), hidden_size=64, tokens=2)  # type: ignore[operator]
    with pytest.raises(FingerprintError):  # positions that are not the protocol's
        Fingerprint.from_bytes(blob, hidden_size=64, tokens=5)


def test_values_past_float16_range_keep_float16_precision() -> None:
    """Gemma-3's residual stream reaches ≈ 1e5 (past float16's 65,504): the committed
    values keep their size (a power-of-two exponent per position), so an honest output
    passes the check and a 1 % lie on its outlier still fails."""
    hidden = torch.randn(1, 2, 640)
    hidden[0, 0, 7], hidden[0, 1, 9], hidden[0, 1, 3] = 98538.04, -4.1e6, 38240.2
    fp = Fingerprint.from_bytes(fingerprint(hidden).to_bytes(), hidden_size=640, tokens=2)
    assert torch.allclose(fp.values, hidden[0].gather(1, fp.indices), rtol=5e-4)
    assert check(fp, hidden, TOL) is None
    lie = hidden.clone()
    lie[0, 0, 7] *= 1.01
    assert check(fp, lie, TOL) is not None


def test_honest_runs_agree_across_threads_and_batch_padding(span: Span) -> None:
    result = honest_checks(span, 200, TOL, sessions=4, decode_steps=3)
    assert result["checks"] >= 200
    assert result["false_positives"] == 0 and result["agree_false_positives"] == 0
    assert result["max_excess"] < 1  # recorded per configuration in docs/verification.md
    assert set(result["max_excess_by_config"]) == {
        f"threads{t}_batch{b}" for t in (1, 2) for b in (1, 4, 16)}


@pytest.mark.parametrize("mode", MODES)
def test_every_adversary_fails_the_check_in_a_sampled_session(span: Span, mode: str) -> None:
    prompts, decode = _sessions(span.hidden_size)
    honest = run_sessions(span, prompts, decode, batch=1, threads=2)
    adversary = Adversary(mode)
    if mode in ("int4", "weights", "skip"):
        lies = run_sessions(adversary.corrupt_span(copy.deepcopy(span)), prompts, decode, batch=1, threads=1)
    else:
        lies = {sid: [adversary.output(sid, x, y) for x, y in zip([prompts[sid], *decode[sid]], honest[sid], strict=True)]
                for sid in prompts}
    caught = {sid: any(check(fingerprint(lie), truth, TOL) is not None
                       for lie, truth in zip(lies[sid], honest[sid], strict=True))
              for sid in prompts}
    # replay needs another session to copy from: the first one it serves is honest
    expected = {sid: not (mode == "replay" and i == 0) for i, sid in enumerate(prompts)}
    assert caught == expected


def test_a_liar_cannot_commit_to_coordinates_where_its_wrong_output_is_right() -> None:
    truth = torch.randn(1, 1, 64)
    wrong = torch.randn(1, 1, 64)
    # pick the 4 coordinates where the wrong output is closest to the truth
    close = (wrong - truth).abs()[0, 0].topk(4, largest=False).indices.sort().values
    values = wrong[0, 0, close].to(torch.float16).float()
    forged = Fingerprint((0,), close.unsqueeze(0), values.unsqueeze(0))
    mismatch = check(forged, truth, TOL)
    assert mismatch is not None and mismatch.reason.startswith(("top-k", "value"))
    # the true top-k coordinates with the wrong output's values fail on value
    honest = fingerprint(truth)
    lied = Fingerprint(honest.positions, honest.indices, wrong[0, 0, honest.indices[0]].unsqueeze(0))
    assert check(lied, truth, TOL) is not None
    # scaling the right answer (cheap to fake for a lazy liar) fails too
    assert check(fingerprint(truth * 1.01), truth, TOL) is not None


def test_agree_tolerates_near_ties_and_refuses_real_differences() -> None:
    base = torch.zeros(1, 1, 64)
    base[0, 0, :5] = torch.tensor([10.0, -9.0, 8.0, 7.0, 6.9999])
    other = base.clone()
    other[0, 0, 4] = 7.00001  # coordinates 3 and 4 swap places within the noise
    a, b = fingerprint(base), fingerprint(other)
    assert not torch.equal(a.indices, b.indices) and agree(a, b, TOL)
    shifted = base.clone()
    shifted[0, 0, 0] = 10.2
    assert not agree(a, fingerprint(shifted), TOL)


@pytest.mark.parametrize("codec", ["none", "fp16", "bf16", "int8-blockwise"])
def test_the_clients_check_passes_every_honest_wire_encoding(codec: str) -> None:
    """The client checks the fingerprint of the span's float32 output against the output
    it received: the codec's rounding must pass (a false alarm would ban an honest
    server), a lie must not."""
    from node.engine.codecs import decode, get_codec

    gen = torch.Generator().manual_seed(3)
    for tokens in (1, 7, 300):
        out = torch.randn(1, tokens, 576, generator=gen) * 4
        out[0, :, torch.randint(0, 576, (3,), generator=gen)] *= 40  # outlier channels
        sent = decode(get_codec(codec).encode(out)).float()
        assert check(fingerprint(out), sent, wire_tolerance("float32", codec)) is None
        assert check(fingerprint(out), sent * 1.2, wire_tolerance("float32", codec)) is not None
    assert isinstance(wire_tolerance("bfloat16", "none"), Tolerance)
