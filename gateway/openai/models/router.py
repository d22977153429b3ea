"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from gateway.deps import GatewayDep
from gateway.openai.errors_doc import ERROR_RESPONSES
from gateway.openai.models.protocol import ModelCard, ModelList
from gateway.openai.models.serving import get_model, list_models

router = APIRouter(tags=["openai"])


@router.get("/v1/models", response_model=ModelList, summary="Models served (adopted on-chain)")
async def models(gateway: GatewayDep) -> ModelList:
    return await asyncio.to_thread(list_models, gateway)  # may read the chain


@router.get("/v1/models/{model}", response_model=ModelCard, responses={404: ERROR_RESPONSES[404]})
async def model(model: str, gateway: GatewayDep) -> ModelCard:
    return await asyncio.to_thread(get_model, gateway, model)
