"""Greedy decode timing shared by the benchmarks: a prefill, then ``steps`` tokens one
at a time through any ``Route`` (stop tokens ignored, the client head included)."""

from __future__ import annotations

import time

import torch

from node.client import ClientModel
from node.engine import Route


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
