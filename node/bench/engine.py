"""Span engine benchmark (``helio bench engine``).

Everything is measured in one run, on the same machine, with the same pinned thread
count, baseline and engine interleaved (A B A B …); each side reports its best run (a
busy machine only ever slows a run down) and the ratio of medians is given too:

- ``full_tokens_per_s``: plain transformers ``generate`` (greedy, KV cache) on the whole
  model, fp32 — the baseline;
- ``span_tokens_per_s``: the same prompt through the client and 3 in-process spans;
- ``batched_tokens_per_s``: 1 / 4 / 16 concurrent client threads on shared span hosts
  (their steps batched by the hosts' workers); ``server_tokens_per_s``: the spans alone
  stepping that many sessions in lockstep (what one server gives, clients elsewhere);
- int8 (weight-only), int8-dynamic (fbgemm) and int4 weights: speed against fp32 spans (same run), top-1 agreement with fp32
  and perplexity on real English text (CPython's ``pydoc_data.topics``); the fast int8
  path (our AVX2/AVX-512 kernel for decode-sized steps) also as absolute
  ``int8_fast_tokens_per_s`` beside ``int8_fast_fp32_tokens_per_s`` of the same run;
- ``overhead``: a decode step's time outside its matmuls, fp32 and int8, on the lean decode
  step and (``fp32_transformers``) through the family's transformers stack (node/bench/overhead.py);
- wire codecs: top-1 agreement and perplexity with hidden states encoded between hops.

``device`` (``--device auto|cpu|cuda|cuda:N|mps``, resolved by ``node.engine.device``)
puts the spans, the client's embeddings and head, and the baseline model on that device;
``int8-dynamic`` and ``int4`` are CPU kernels and are reported as skipped elsewhere.
"""

from __future__ import annotations

import resource
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch

from node.bench.machine import machine_info
from node.bench.overhead import step_overhead
from node.bench.scoring import TEXT_SOURCE, english_text, score, top1_agreement
from node.client import ClientModel, SamplingParams, generate_tokens
from node.engine import EngineError, InProcessRoute, Span, SpanHost, StepRequest
from node.engine.device import resolve_device

PROMPT = (
    "The history of the printing press begins in the fifteenth century, when a goldsmith in "
    "Mainz combined movable metal type, oil-based ink and a screw press. Within fifty years"
)


CPU_ONLY = ("int8-dynamic", "int4")  # fbgemm and torch's CPU int4 kernel


def split_points(num_blocks: int, parts: int = 3) -> list[tuple[int, int]]:
    cuts = [round(i * num_blocks / parts) for i in range(parts + 1)]
    return list(zip(cuts, cuts[1:], strict=False))


def _timed(fn: Callable[[], int]) -> float:
    start = time.perf_counter()
    tokens = fn()
    return tokens / (time.perf_counter() - start)


def _pair(a: Callable[[], int], b: Callable[[], int], repeats: int) -> tuple[float, float, float]:
    """Tokens/s of a and b, interleaved (a b a b …) after one warm-up each: the best run
    of each (other processes on a shared machine only ever slow a run down), and the
    ratio b/a of the medians as a second view."""
    a(), b()
    runs_a, runs_b = [], []
    for _ in range(repeats):
        runs_a.append(_timed(a))
        runs_b.append(_timed(b))
    return max(runs_a), max(runs_b), statistics.median(runs_b) / statistics.median(runs_a)


def bench_engine(
    model_id: str, model_dir: Path, *, threads: int = 2, new_tokens: int = 32, repeats: int = 5,
    quality_tokens: int = 512, concurrency: tuple[int, ...] = (1, 4, 16), device: str = "cpu",
) -> dict[str, Any]:  # fmt: skip
    from node.models.reference import load_full_model

    where = resolve_device(device)  # an absent GPU fails before anything loads
    torch.set_num_threads(threads)
    client = ClientModel(model_dir).to(where)
    spans = [Span(model_dir, a, b, device=where) for a, b in split_points(client.manifest.num_blocks)]
    full = load_full_model(model_dir, verify=False).to(where)
    prompt = client.encode(PROMPT)
    params = SamplingParams(max_new_tokens=new_tokens)

    def run_full() -> int:
        ids = torch.tensor([prompt], device=where)
        with torch.inference_mode():
            out = full.generate(
                ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
            )
        return int(out.shape[1] - ids.shape[1])

    def run_spans(route_spans: list[Span]) -> Callable[[], int]:
        return lambda: len(
            list(generate_tokens(client, InProcessRoute(route_spans), prompt, params))
        )

    full_tps, span_tps, median_ratio = _pair(run_full, run_spans(spans), repeats)
    result: dict[str, Any] = {
        "model": model_id,
        "dtype": client.manifest.dtype,
        "device": str(where),
        "threads": threads,
        "spans": [[s.start, s.end] for s in spans],
        "new_tokens": new_tokens,
        "full_tokens_per_s": round(full_tps, 2),
        "span_tokens_per_s": round(span_tps, 2),
        "ratio": round(span_tps / full_tps, 3),
        "ratio_of_medians": round(median_ratio, 3),
    }
    full = None  # free the baseline's weights before the next parts

    result["batched_tokens_per_s"], result["server_tokens_per_s"] = _batched(
        client, spans, prompt, concurrency, new_tokens // 2
    )
    result.update(_quantized(client, model_dir, spans, repeats, params, prompt, quality_tokens))
    result["wire"] = _wire(client, spans, quality_tokens)
    result["text"] = TEXT_SOURCE
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["machine"] = machine_info()
    return result


def _batched(
    client: ClientModel,
    spans: list[Span],
    prompt: list[int],
    concurrency: tuple[int, ...],
    tokens: int,
) -> tuple[dict[str, float], dict[str, float]]:
    hosts = [SpanHost(span) for span in spans]
    params = SamplingParams(max_new_tokens=tokens)
    end_to_end: dict[str, float] = {}
    server: dict[str, float] = {}
    for n in concurrency:
        produced = [0] * n
        barrier = threading.Barrier(n + 1)

        def worker(i: int, barrier: threading.Barrier, produced: list[int]) -> None:
            barrier.wait()
            route = InProcessRoute(hosts, batching=True)
            produced[i] = len(list(generate_tokens(client, route, prompt, params)))

        pool = [threading.Thread(target=worker, args=(i, barrier, produced)) for i in range(n)]
        for t in pool:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in pool:
            t.join()
        end_to_end[str(n)] = round(sum(produced) / (time.perf_counter() - start), 2)
        server[str(n)] = round(_lockstep(client, hosts, prompt, n, tokens), 2)
    for host in hosts:
        host.shutdown()
    return end_to_end, server


def _lockstep(
    client: ClientModel, hosts: list[SpanHost], prompt: list[int], n: int, steps: int
) -> float:
    """Decode tokens/s of the spans alone with ``n`` sessions stepping together."""
    sids = [f"bench-{n}-{i}" for i in range(n)]
    hidden = client.embed(torch.tensor([prompt]))
    for host in hosts:
        for sid in sids:
            host.open(sid, len(prompt) + steps + 1)
            host.step(sid, hidden, 0)
    token = client.embed(torch.tensor([[prompt[-1]]]))
    start = time.perf_counter()
    for step in range(steps):
        hiddens = [token] * n
        for host in hosts:
            results = host.step_batch(
                [StepRequest(s, h, len(prompt) + step) for s, h in zip(sids, hiddens, strict=True)]
            )
            if errors := [r for r in results if isinstance(r, EngineError)]:
                raise errors[0]  # a failed step must not travel on as hidden states
            hiddens = [r for r in results if isinstance(r, torch.Tensor)]
    elapsed = time.perf_counter() - start
    for host in hosts:
        for sid in sids:
            host.close(sid)
    return n * steps / elapsed


def _quantized(
    client: ClientModel, model_dir: Path, spans: list[Span], repeats: int, params: SamplingParams,
    prompt: list[int], quality_tokens: int,
) -> dict[str, Any]:  # fmt: skip
    ids = client.encode(english_text())[:quality_tokens]
    reference = score(client, InProcessRoute(spans), ids)
    out: dict[str, Any] = {
        "fp32_perplexity": round(reference.perplexity, 3),
        "quality_tokens": len(ids),
    }

    def run(route_spans: list[Span]) -> Callable[[], int]:
        return lambda: len(
            list(generate_tokens(client, InProcessRoute(route_spans), prompt, params))
        )

    where = spans[0].device
    for mode in ("int8", "int8-dynamic", "int4"):
        key = mode.replace("-", "_")
        if mode in CPU_ONLY and where.type != "cpu":
            out[f"{key}_skipped"] = f"{mode} runs on CPU kernels only (device {where})"
            continue
        quant = [Span(model_dir, s.start, s.end, verify=False, quant=mode, device=where)
                 for s in spans]
        fp32_tps, quant_tps, _ = _pair(run(spans), run(quant), repeats)
        scored = score(client, InProcessRoute(quant), ids)
        out[f"{key}_speedup"] = round(quant_tps / fp32_tps, 3)
        if mode == "int8":
            out["int8_fast_tokens_per_s"] = round(quant_tps, 2)
            out["int8_fast_fp32_tokens_per_s"] = round(fp32_tps, 2)
            out["int8_fast_speedup"] = out[f"{key}_speedup"]
            out["overhead"] = {
                "fp32": step_overhead(client, spans, prompt),
                "fp32_transformers": step_overhead(client, spans, prompt, fast=False),
                "int8": step_overhead(client, quant, prompt),
            }
        out[f"{key}_top1_agreement"] = round(top1_agreement(reference, scored), 4)
        out[f"{key}_perplexity"] = round(scored.perplexity, 3)
        out[f"{key}_perplexity_delta"] = round(scored.perplexity - reference.perplexity, 3)
        if mode == "int8":
            out["int8_fast_top1_agreement"] = out[f"{key}_top1_agreement"]
            out["int8_fast_perplexity_delta"] = out[f"{key}_perplexity_delta"]
        out[f"{key}_weights_mb"] = round(sum(_module_bytes(s) for s in quant) / 1e6, 1)
    out["fp32_weights_mb"] = round(sum(_module_bytes(s) for s in spans) / 1e6, 1)
    return out


def _module_bytes(module: torch.nn.Module) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    packed = 0
    for m in module.modules():  # torch's dynamic int8 keeps weights in packed params
        if hasattr(m, "_packed_params") and callable(getattr(m, "weight", None)):
            weight = cast("Callable[[], torch.Tensor]", m.weight)()
            packed += weight.numel() * weight.element_size()
    return sum(t.numel() * t.element_size() for t in tensors) + packed


def _wire(client: ClientModel, spans: list[Span], quality_tokens: int) -> dict[str, Any]:
    ids = client.encode(english_text())[:quality_tokens]
    reference = score(client, InProcessRoute(spans), ids)
    out: dict[str, Any] = {"safe_default": client.family.wire_codec}
    for codec in ("fp16", "bf16", "int8-blockwise"):
        try:
            scored = score(client, InProcessRoute(spans, codec=codec), ids)
        except Exception as exc:  # fp16 refuses Gemma-3's range: report it
            out[codec] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[codec] = {
            "top1_agreement": round(top1_agreement(reference, scored), 4),
            "perplexity_delta": round(scored.perplexity - reference.perplexity, 4),
        }
    return out
