"""``GET /api/swarm`` and ``GET /api/swarm/events`` (SSE)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from gateway.dashboard.serving import snapshot, snapshot_events
from gateway.deps import GatewayDep

router = APIRouter(tags=["dashboard"])


@router.get("/api/swarm", summary="Swarm snapshot for the dashboard")
async def swarm(gateway: GatewayDep) -> dict[str, Any]:
    return await asyncio.to_thread(snapshot, gateway)


@router.get("/api/swarm/events", summary="Swarm snapshots as server-sent events")
async def swarm_events(
    request: Request, gateway: GatewayDep,
    interval: float = Query(1.0, ge=0.2, le=60, description="seconds between snapshots"),
    count: int | None = Query(None, ge=1, le=10_000, description="stop after this many (tests)"),
) -> StreamingResponse:
    return StreamingResponse(snapshot_events(request, gateway, interval, count),
                             media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
