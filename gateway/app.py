"""``create_app(gateway)``: the FastAPI app (OpenAI API, payments info, health,
dashboard data, and the built web app at ``/``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from gateway import dashboard
from gateway.deps import GatewayDep
from gateway.epochs import close_epoch
from gateway.errors import APIError, install_error_handlers
from gateway.openai.chat.router import router as chat_router
from gateway.openai.completions.router import router as completions_router
from gateway.openai.models.router import router as models_router
from gateway.state import Gateway

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).parent / "web" / "dist"

NOT_BUILT = """<!doctype html><title>Heliomesh gateway</title>
<h1>Heliomesh gateway</h1><p>The web app is not built: run <code>make setup</code>
(it builds <code>gateway/web</code> with Vite). The API is at <a href="/docs">/docs</a>.</p>"""


async def _epochs(gateway: Gateway) -> None:
    """Close contribution epochs on time (and post their roots; gateway/epochs.py)."""
    while True:
        await asyncio.sleep(min(gateway.accounting.epoch_s, 60))
        if gateway.accounting.due():
            try:
                await asyncio.to_thread(close_epoch, gateway)
            except Exception as exc:  # the next epoch retries with the work since
                log.warning("closing the contribution epoch failed: %s", exc)


def create_app(gateway: Gateway, web_dist: Path | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(gateway.redeem_loop.run()), asyncio.create_task(_epochs(gateway))]
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
    app.include_router(chat_router)
    app.include_router(completions_router)
    app.include_router(models_router)
    app.include_router(dashboard.router)

    @app.get("/health", tags=["gateway"], summary="Liveness and what the gateway is connected to")
    async def health(gateway: GatewayDep) -> dict[str, Any]:
        return {
            "status": "ok",
            "models": list(gateway.models),
            "active_generations": gateway.engine.active,
            "chain": gateway.chain.rpc_url if gateway.chain else None,
            "payments": "on-chain" if gateway.memory_channels is None else "off-chain",
            "vouchers_pending": len(gateway.desk.unredeemed()),
            "last_redeem_error": gateway.redeem_loop.last_error,
        }

    @app.get("/v1/payments", tags=["gateway"], summary="How to pay: payee, chain, contract, price")
    async def payments(gateway: GatewayDep) -> dict[str, Any]:
        return await asyncio.to_thread(gateway.payments_info)

    @app.get("/v1/payments/model-key/{model}", tags=["gateway"], summary="keccak256(model id), for vouchers")
    async def payments_model_key(model: str) -> dict[str, str]:
        from node.chain.eip712 import model_key
        from node.core.errors import ConfigError

        try:
            return {"model_id": model, "model_key": "0x" + model_key(model).hex()}
        except ConfigError as exc:
            raise APIError(400, str(exc), param="model") from None

    @app.get("/v1/contributions", tags=["gateway"], summary="Closed contribution epochs")
    async def contributions(gateway: GatewayDep) -> dict[str, Any]:
        return {"epoch": gateway.accounting.epoch, "current_work": dict(gateway.accounting.work),
                "closed": [r.as_dict() for r in gateway.accounting.closed]}

    dist = web_dist or gateway.settings.web_dist or WEB_DIST
    if (dist / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dist, html=True), name="web")
    else:
        @app.get("/", include_in_schema=False)
        async def index() -> HTMLResponse:
            return HTMLResponse(NOT_BUILT)

    return app
