"""What the gateway serves: a ``ServedModel`` pairs the client part of a model with a
``RouteFactory`` that opens a fresh route (chain of spans) for each generation.

Two kinds of factory exist: ``in_process_routes`` loads the model's blocks in this
process (tests, ``helio gateway`` without a swarm); ``swarm_view.swarm_served_model``
opens a ``SwarmRoute`` over the inferers found in the DHT. Serving code only calls
``factory()``; ``as_swarm_route`` tells a swarm route apart (its hops can be pinned to an
energy admission and are reported for contribution accounting).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.client import ClientModel
from node.engine import InProcessRoute, Route, Span

if TYPE_CHECKING:
    from node.client.swarm_route import SwarmRoute

log = logging.getLogger(__name__)

RouteFactory = Callable[[], Route]


@dataclass(frozen=True)
class SpanInfo:
    """One server (or in-process span) serving blocks ``[start, end)``: for the dashboard."""

    server: str
    start: int
    end: int
    state: str = "online"
    address: str | None = None  # the inferer's Ethereum address (None: the gateway's own)


@dataclass
class ServedModel:
    model_id: str
    client: ClientModel
    route_factory: RouteFactory
    num_blocks: int
    spans: list[SpanInfo] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))
    swarm: Any = None  # the SwarmClient its routes use: the dashboard reads its DHT records

    def encode_prompt(self, text: str) -> list[int]:
        return self.client.encode(text)  # adds <bos> where the family needs it (Gemma)

    @property
    def context_length(self) -> int:
        return int(getattr(self.client.config, "max_position_embeddings", 2048))


def as_swarm_route(route: Route) -> SwarmRoute | None:
    """``route`` if it is a ``SwarmRoute``, else None. A swarm route can only exist once
    its module is imported, so an in-process gateway never imports the p2p stack here."""
    module = sys.modules.get("node.client.swarm_route")
    if module is None:
        return None
    swarm_route: type[SwarmRoute] = module.SwarmRoute
    return route if isinstance(route, swarm_route) else None


def in_process_routes(model_dir: Path, spans: int = 1) -> tuple[RouteFactory, list[SpanInfo]]:
    """Load the model's blocks in this process, split into ``spans`` spans of equal size;
    each call of the factory opens a route with its own KV caches over the shared weights."""
    from node.core.manifest import Manifest

    n = Manifest.load(model_dir).num_blocks
    if not 1 <= spans <= n:
        raise ValueError(f"spans must be between 1 and {n}")
    bounds = [round(i * n / spans) for i in range(spans + 1)]
    loaded = [Span(model_dir, a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    info = [SpanInfo(f"in-process-{i}", s.start, s.end) for i, s in enumerate(loaded)]
    return (lambda: InProcessRoute(loaded)), info


def load_served_model(model_id: str, dtype: str, cache_dir: Path, spans: int = 1) -> ServedModel:
    """Convert (or reuse the converted) ``model_id`` and serve it with in-process spans."""
    from node.models.convert import convert_model

    started = time.perf_counter()
    converted = convert_model(model_id, dtype, cache_dir, progress=False)
    client = ClientModel(converted.model_dir)
    factory, info = in_process_routes(converted.model_dir, spans)
    log.info("serving %s (%d blocks, %d span(s)) loaded in %.1f s", model_id,
             converted.manifest.num_blocks, spans, time.perf_counter() - started)
    return ServedModel(model_id, client, factory, converted.manifest.num_blocks, info)
