"""``GET /v1/payments``, ``GET /v1/payments/channels/{channel}`` and
``GET /v1/payments/model-key/{model}``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from gateway.deps import GatewayDep
from gateway.openai.errors_doc import ErrorResponse
from gateway.payment_terms.serving import channel_receipt, model_key_info, payments_info

router = APIRouter(tags=["gateway"])


@router.get("/v1/payments", summary="How to pay: payee, chain, contract, price")
async def payments(gateway: GatewayDep) -> dict[str, Any]:
    return await asyncio.to_thread(payments_info, gateway)  # may read the chain


@router.get("/v1/payments/channels/{channel}", summary="The payee's signed receipt of a channel's books",
            responses={404: {"model": ErrorResponse, "description": "unknown_channel: no voucher accepted on it"}})
async def payments_channel_receipt(gateway: GatewayDep, channel: int) -> dict[str, Any]:
    return channel_receipt(gateway, channel)


@router.get("/v1/payments/model-key/{model}", summary="keccak256(model id), for vouchers")
async def payments_model_key(model: str) -> dict[str, str]:
    return model_key_info(model)
