"""``create_app(gateway)``: the FastAPI app assembled from the routers (OpenAI API,
payments info, contributions, health, dashboard data) and the built web app at ``/``.
Each endpoint lives in its router module; this file only wires them together with the
error handlers and the background loops (voucher redemption, contribution epochs)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from gateway.contributions.router import router as contributions_router
from gateway.contributions.serving import epoch_loop
from gateway.dashboard.router import router as dashboard_router
from gateway.errors import install_error_handlers
from gateway.health.router import router as health_router
from gateway.limits import BodyLimit
from gateway.openai.chat.router import router as chat_router
from gateway.openai.completions.router import router as completions_router
from gateway.openai.models.router import router as models_router
from gateway.openai.schema import document_real_limits
from gateway.payment_terms.router import router as payments_router
from gateway.prometheus.install import install_metrics
from gateway.state import Gateway
from gateway.webapp import WEB_DIST, mount_web_app


def create_app(gateway: Gateway, web_dist: Path | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(gateway.redeem_loop.run()), asyncio.create_task(epoch_loop(gateway))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(gateway.redeem_loop.redeem_now)

    app = FastAPI(
        title="Heliomesh gateway",
        version="0.1.0",
        description="OpenAI-compatible API over the Heliomesh swarm; see docs/api.md.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=gateway.settings.max_body_bytes, timeout_s=gateway.settings.body_timeout_s)
    for router in (chat_router, completions_router, models_router, dashboard_router, health_router,
                   payments_router, contributions_router):
        app.include_router(router)
    install_metrics(app, gateway)  # GET /metrics + HTTP latency/status (HELIO_GATEWAY_METRICS)
    document_real_limits(app, gateway.settings.max_tokens_cap)  # the schema states the real cap
    mount_web_app(app, web_dist or gateway.settings.web_dist or WEB_DIST)
    return app
