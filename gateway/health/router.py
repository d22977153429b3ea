"""``GET /health``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.deps import GatewayDep
from gateway.health import serving

router = APIRouter(tags=["gateway"])


@router.get("/health", summary="Liveness and what the gateway is connected to")
async def health(gateway: GatewayDep) -> dict[str, Any]:
    return serving.health(gateway)
