"""``install_metrics(app, gateway)``: ``GET /metrics`` and the HTTP middleware that records
latency and status per route into the gateway's registry."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

from gateway.prometheus.router import router
from gateway.state import Gateway


def install_metrics(app: FastAPI, gateway: Gateway) -> None:
    metrics = gateway.metrics
    if not metrics.enabled:
        return
    instrumentator = Instrumentator(
        should_group_status_codes=False,  # errors by exact status
        should_ignore_untemplated=False,  # unknown paths count too, as handler "none"
        should_group_untemplated=True,
        excluded_handlers=["^/metrics$"],
        registry=metrics.registry,
    )
    instrumentator.add(*metrics.http_instrumentations).instrument(app)
    app.include_router(router)
