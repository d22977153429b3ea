"""Verification benchmark (``helio bench verify``): how well span fingerprints separate
honest noise from lies, and what spot-checking costs.

- ``false_positives``: honest checks that fail. Each check compares a session step's
  fingerprint computed under one configuration (torch threads 1 or 2, batch 1, 4 or 16
  with left padding from batch-mates of other lengths) against a re-execution under
  another (the other thread count, batch 1): ``check`` (the committed fingerprint
  against the re-executed output) and ``agree`` (fingerprint against fingerprint).
- ``max_excess``: the largest honest deviation, in units of the tolerance (< 1 passes):
  the calibration recorded in docs/verification.md.
- per adversary (``node/inferer/adversary.py``): the probability that one spot-checked
  step exposes it, and requests until detection when the referee samples a fraction
  ``p`` of sessions and re-executes each sampled one (every step of it is compared), by
  simulation over the measured per-step probability (median and worst of ``runs``).
- ``reexecution_overhead``: re-executed span compute over serving compute at each ``p``
  (a disagreement costs a third execution).
- ``fingerprint_bytes_per_token``: for a decode step and for a 512-token prefill.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from node.engine import Span, SpanHost, StepRequest
from node.engine.fingerprint import Tolerance, agree, check, fingerprint, max_excess, tolerance_for
from node.inferer.adversary import MODES, Adversary

Outputs = dict[str, list[torch.Tensor]]  # session -> its step outputs (1, T, H)


def run_sessions(span: Span, prompts: dict[str, torch.Tensor], decode: dict[str, list[torch.Tensor]],
                 *, batch: int, threads: int) -> Outputs:
    """Prefill every session then decode, ``batch`` sessions per forward (left-padded),
    under ``threads`` torch threads; every step's output per session."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        host = SpanHost(span)
        ids = list(prompts)
        for sid in ids:
            host.open(sid, 4096)
        out: Outputs = {sid: [] for sid in ids}
        positions = {sid: 0 for sid in ids}
        steps = [{sid: prompts[sid] for sid in ids}]
        steps += [{sid: decode[sid][i] for sid in ids} for i in range(len(decode[ids[0]]))]
        for step in steps:
            for group in range(0, len(ids), batch):
                members = ids[group:group + batch]
                results = host.step_batch([StepRequest(s, step[s], positions[s]) for s in members])
                for sid, result in zip(members, results, strict=True):
                    assert isinstance(result, torch.Tensor), result
                    out[sid].append(result)
                    positions[sid] += step[sid].shape[1]
        for sid in ids:
            host.close(sid)
        host.shutdown()
        return out
    finally:
        torch.set_num_threads(previous)


def _inputs(hidden: int, sessions: int, decode_steps: int, rng: random.Random,
            scale: float) -> tuple[dict[str, torch.Tensor], dict[str, list[torch.Tensor]]]:
    gen = torch.Generator().manual_seed(rng.randrange(1 << 30))
    prompts = {f"{i:064x}": torch.randn(1, rng.randint(1, 24), hidden, generator=gen) * scale
               for i in range(sessions)}
    decode = {sid: [torch.randn(1, 1, hidden, generator=gen) * scale for _ in range(decode_steps)]
              for sid in prompts}
    return prompts, decode


def honest_checks(span: Span, checks: int, tol: Tolerance, *, seed: int = 0,
                  sessions: int = 16, decode_steps: int = 8) -> dict[str, Any]:
    """At least ``checks`` honest comparisons spread over threads (1, 2) × batch (1, 4, 16):
    each configuration's outputs against a batch-1 re-execution under the other thread
    count."""
    rng = random.Random(seed)
    configs = [(t, b) for t in (1, 2) for b in (1, 4, 16)]
    total = failures = agree_failures = 0
    by_config = {f"threads{t}_batch{b}": 0.0 for t, b in configs}
    while total < checks:
        prompts, decode = _inputs(span.hidden_size, sessions, decode_steps, rng, 1.0)
        alone = {t: run_sessions(span, prompts, decode, batch=1, threads=t) for t in (1, 2)}
        for threads, batch in configs:
            served = alone[threads] if batch == 1 else run_sessions(
                span, prompts, decode, batch=batch, threads=threads)
            redone = alone[3 - threads]
            key = f"threads{threads}_batch{batch}"
            for sid in prompts:
                for a, b in zip(served[sid], redone[sid], strict=True):
                    claimed = fingerprint(a)
                    by_config[key] = max(by_config[key], max_excess(claimed, b, tol))
                    failures += check(claimed, b, tol) is not None
                    agree_failures += not agree(claimed, fingerprint(b), tol)
                    total += 1
    return {"checks": total, "false_positives": failures, "agree_false_positives": agree_failures,
            "max_excess": round(max(by_config.values()), 4),
            "max_excess_by_config": {k: round(v, 4) for k, v in by_config.items()}}


def _liar_outputs(mode: str, span: Span, honest_span: Span, prompts: dict[str, torch.Tensor],
                  decode: dict[str, list[torch.Tensor]]) -> Outputs:
    """What an inferer in ``mode`` would have committed to for these sessions."""
    adversary = Adversary(mode)
    if mode in ("int4", "weights", "skip"):
        lying = adversary.corrupt_span(copy.deepcopy(honest_span))
        return run_sessions(lying, prompts, decode, batch=1, threads=1)
    honest = run_sessions(span, prompts, decode, batch=1, threads=1)
    out: Outputs = {}
    for sid in prompts:
        inputs = [prompts[sid], *decode[sid]]
        out[sid] = [adversary.output(sid, x, y) for x, y in zip(inputs, honest[sid], strict=True)]
    return out


def detection(span: Span, tol: Tolerance, *, sessions: int = 8, decode_steps: int = 8,
              seed: int = 1) -> dict[str, dict[str, float]]:
    """Per adversary: the fraction of its steps whose fingerprint fails against an honest
    re-execution (per-step detection probability)."""
    rng = random.Random(seed)
    prompts, decode = _inputs(span.hidden_size, sessions, decode_steps, rng, 1.0)
    honest = run_sessions(span, prompts, decode, batch=1, threads=2)
    result = {}
    for mode in MODES:
        lies = _liar_outputs(mode, span, span, prompts, decode)
        checked = caught = 0
        for sid in prompts:
            for lie, truth in zip(lies[sid], honest[sid], strict=True):
                checked += 1
                caught += check(fingerprint(lie), truth, tol) is not None
        result[mode] = {"steps": checked, "per_step_detection": round(caught / checked, 4)}
    return result


def requests_until_detection(per_step: float, p: float, steps_per_request: int, runs: int,
                             rng: random.Random, cap: int = 1_000_000) -> dict[str, float | None]:
    """Simulated: each request is sampled with probability ``p``; a sampled one is
    re-executed and each of its steps exposes the liar with ``per_step``."""
    if per_step <= 0:  # nothing to find (e.g. int4 on a model whose weights are on the int4 grid)
        return {"median": None, "worst": None}
    per_session = 1 - (1 - per_step) ** steps_per_request
    counts = []
    for _ in range(runs):
        n = 0
        while n < cap:
            n += 1
            if rng.random() < p and rng.random() < per_session:
                break
        counts.append(n)
    return {"median": statistics.median(counts), "worst": max(counts)}


def overhead(span: Span, ps: tuple[float, ...], *, sessions: int = 8, decode_steps: int = 16,
             seed: int = 2) -> dict[str, float]:
    """Re-executed compute over serving compute: a sampled session is re-run once (the
    same steps on one other inferer), ``p`` of them; measured serving time × ``p``."""
    rng = random.Random(seed)
    prompts, decode = _inputs(span.hidden_size, sessions, decode_steps, rng, 1.0)
    started = time.perf_counter()
    run_sessions(span, prompts, decode, batch=sessions, threads=1)
    serving = time.perf_counter() - started
    started = time.perf_counter()
    run_sessions(span, dict(list(prompts.items())[:1]), decode, batch=1, threads=1)
    one_replay = time.perf_counter() - started  # one session replayed alone (no batching)
    per_session_serving = serving / sessions
    return {f"p{round(p * 100)}": round(p * one_replay / per_session_serving, 4) for p in ps}


def bytes_per_token(hidden_size: int) -> dict[str, float]:
    decode = len(fingerprint(torch.randn(1, 1, hidden_size)).to_bytes())
    prefill = len(fingerprint(torch.randn(1, 512, hidden_size)).to_bytes()) / 512
    return {"decode_step": float(decode), "prefill_512": round(prefill, 3)}


def bench_verify(model_dir: Path, *, blocks: tuple[int, int] | None = None, checks: int = 10_000,
                 quant: str | None = None, runs: int = 101, steps_per_request: int = 32,
                 ps: tuple[float, ...] = (0.01, 0.02, 0.05)) -> dict[str, Any]:
    span = Span(model_dir, *(blocks or (0, min(4, _num_blocks(model_dir)))), quant=quant)
    tol = tolerance_for(quant)
    rng = random.Random(3)
    honest = honest_checks(span, checks, tol)
    detected = detection(span, tol)
    adversaries = {}
    for mode, row in detected.items():
        adversaries[mode] = {**row, **{
            f"requests_until_detection_p{round(p * 100)}": requests_until_detection(
                row["per_step_detection"], p, steps_per_request, runs, rng) for p in ps}}
    return {
        "model": span.manifest.model_id, "blocks": [span.start, span.end], "quantization": quant or "none",
        "tolerance": {"rtol": tol.rtol, "atol": tol.atol}, **honest,
        "adversaries": adversaries, "steps_per_request": steps_per_request, "runs": runs,
        "reexecution_overhead": overhead(span, ps),
        "fingerprint_bytes_per_token": bytes_per_token(span.hidden_size),
    }


def _num_blocks(model_dir: Path) -> int:
    from node.core.manifest import Manifest

    return Manifest.load(model_dir).num_blocks
