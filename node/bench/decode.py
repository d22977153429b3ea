"""Greedy decode timing shared by the benchmarks: a prefill, then ``steps`` tokens one
at a time through any ``Route`` (stop tokens ignored, the client head included); and
``bench_decode``, the single-process decode speed of fp32 and int8 spans."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from node.bench.machine import machine_info
from node.client import ClientModel
from node.engine import InProcessRoute, Route, Span
from node.engine.device import resolve_device

DECODE_PROMPT = "The history of the printing press begins in"


@torch.inference_mode()
def greedy_decode_rate(client: ClientModel, route: Route, ids: list[int], steps: int) -> float:
    """Tokens/s of ``steps`` greedy decode steps after prefilling ``ids``; closes the route."""
    route.open(len(ids) + steps + 1)
    try:
        hidden = route.step(client.embed(torch.tensor([ids])))
        token = int(torch.argmax(client.logits(hidden[:, -1:])[0, -1]))
        started = time.perf_counter()
        for _ in range(steps):
            hidden = route.step(client.embed(torch.tensor([[token]])))
            token = int(torch.argmax(client.logits(hidden)[0, -1]))
        return steps / (time.perf_counter() - started)
    finally:
        route.close()


def bench_decode(
    model_dir: Path, *, threads: int = 1, new_tokens: int = 64, repeats: int = 3, device: str = "cpu",
    quality_tokens: int = 256,
) -> dict[str, Any]:  # fmt: skip
    """Single-process greedy decode (``helio bench engine --decode-only``): one span over
    every block plus the client's embeddings and head, fp32 and int8 (our kernel), each
    on the lean decode step and through the family's transformers stack (the engine
    before it), and int8 spans with the opt-in int8 head (``ClientModel.quantize_head``);
    all five interleaved round by round after one warm-up each; tokens/s as the median
    and [min, max] over the rounds. A short prompt, then ``new_tokens`` decode steps:
    comparable to ``llama-bench -p 0 -n <new_tokens>``. ``int8_head_top1_agreement``: how
    often the int8 head's top token equals the fp32 head's, on fp32 hidden states of
    ``quality_tokens`` tokens of English text."""
    where = resolve_device(device)  # an absent GPU fails before anything loads
    torch.set_num_threads(threads)
    client = ClientModel(model_dir).to(where)
    small_head = ClientModel(model_dir, verify=False).to(where)
    small_head.quantize_head()
    n = client.manifest.num_blocks
    spans = {"fp32": Span(model_dir, 0, n, device=where),
             "int8": Span(model_dir, 0, n, verify=False, quant="int8", device=where)}  # fmt: skip
    ids = client.encode(DECODE_PROMPT)
    # name → (client, span, lean step)
    variants = {"fp32": (client, "fp32", True), "fp32_transformers": (client, "fp32", False),
                "int8": (client, "int8", True), "int8_transformers": (client, "int8", False),
                "int8_head": (small_head, "int8", True)}  # fmt: skip

    def rate(name: str, steps: int) -> float:
        head, quant, fast = variants[name]
        spans[quant].fast_decode = fast
        return greedy_decode_rate(head, InProcessRoute([spans[quant]]), ids, steps)

    for name in variants:
        rate(name, 4)  # warm-up: the int8 kernel's first load, allocator, caches
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name in variants:
            runs[name].append(rate(name, new_tokens))
    out: dict[str, Any] = {"model": client.manifest.model_id, "device": str(where), "threads": threads,
                           "new_tokens": new_tokens, "prompt_tokens": len(ids), "repeats": repeats}  # fmt: skip
    for name, values in runs.items():
        out[f"{name}_tokens_per_s"] = round(statistics.median(values), 2)
        out[f"{name}_range"] = [round(min(values), 2), round(max(values), 2)]
    out["lean_speedup_fp32"] = round(out["fp32_tokens_per_s"] / out["fp32_transformers_tokens_per_s"], 3)
    out["lean_speedup_int8"] = round(out["int8_tokens_per_s"] / out["int8_transformers_tokens_per_s"], 3)
    out["int8_speedup"] = round(out["int8_tokens_per_s"] / out["fp32_tokens_per_s"], 3)
    out["int8_head_top1_agreement"] = _head_agreement(client, small_head, spans["fp32"], quality_tokens)
    out["machine"] = machine_info()
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


@torch.inference_mode()
def _head_agreement(client: ClientModel, other: ClientModel, span: Span, tokens: int) -> float:
    from node.bench.scoring import english_text

    ids = client.encode(english_text())[:tokens]
    route = InProcessRoute([span])
    route.open(len(ids))
    try:
        hidden = route.step(client.embed(torch.tensor([ids])))
    finally:
        route.close()
    same = client.logits(hidden).argmax(-1) == other.logits(hidden).argmax(-1)
    return round(float(same.float().mean()), 4)
