"""Per-token time of a span outside its matmuls (``helio bench engine``'s
``overhead_ms``): a decode step's wall time minus the time of the same linear layers
run alone on the same inputs. What is left is attention, norms, rotary embeddings, the
KV-cache update and Python. ``fast=False`` times the same step through the family's
transformers stack instead of the lean decode step (node/engine/fastpath.py)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn

from node.client import ClientModel
from node.engine import InProcessRoute, Span
from node.engine.device import synchronize
from node.engine.quant import Int4Linear, Int8Linear

LINEARS = (nn.Linear, Int8Linear, Int4Linear)


@torch.inference_mode()
def step_overhead(
    client: ClientModel, spans: list[Span], prompt: list[int], steps: int = 16, *, fast: bool = True
) -> dict[str, float]:
    """Median decode step (ms), its matmuls alone (ms) and the difference, per token."""
    before = [s.fast_decode for s in spans]
    route = InProcessRoute(spans)
    route.open(len(prompt) + steps + 2)
    try:
        route.step(client.embed(torch.tensor([prompt])))
        token = client.embed(torch.tensor([[prompt[-1]]]))
        recorded: list[tuple[nn.Module, torch.Tensor]] = []

        def keep(module: nn.Module, args: tuple[Any, ...]) -> None:
            recorded.append((module, args[0].clone()))

        for span in spans:  # the lean step calls the linears without hooks: record on the other
            span.fast_decode = False
        hooks = [m.register_forward_pre_hook(keep) for s in spans for m in s.modules()
                 if isinstance(m, LINEARS)]
        route.step(token)
        for hook in hooks:
            hook.remove()
        for span in spans:
            span.fast_decode = fast
        step_times = []
        for _ in range(steps):
            started = time.perf_counter()
            route.step(token)
            step_times.append(time.perf_counter() - started)
    finally:
        route.close()
        for span, was in zip(spans, before, strict=True):
            span.fast_decode = was
    matmul_times = []
    device = spans[0].device
    for _ in range(steps):
        started = time.perf_counter()
        for module, x in recorded:
            module.forward(x)  # as the lean step calls them: no nn.Module.__call__ around
        synchronize(device)  # a GPU queues the matmuls; the steps above end on the CPU
        matmul_times.append(time.perf_counter() - started)
    step_ms = statistics.median(step_times) * 1e3
    matmul_ms = statistics.median(matmul_times) * 1e3
    return {"step_ms": round(step_ms, 3), "matmul_ms": round(matmul_ms, 3),
            "overhead_ms": round(step_ms - matmul_ms, 3), "linears": len(recorded)}
