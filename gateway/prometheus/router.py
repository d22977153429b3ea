"""``GET /metrics``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.deps import GatewayDep

router = APIRouter(tags=["gateway"])


@router.get("/metrics", summary="Prometheus metrics (text exposition format)", include_in_schema=False)
async def metrics(gateway: GatewayDep) -> Response:
    body = await asyncio.to_thread(generate_latest, gateway.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
