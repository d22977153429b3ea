"""``GET /v1/contributions``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.contributions import serving
from gateway.deps import GatewayDep

router = APIRouter(tags=["gateway"])


@router.get("/v1/contributions", summary="Closed contribution epochs")
async def contributions(gateway: GatewayDep) -> dict[str, Any]:
    return serving.contributions(gateway)
