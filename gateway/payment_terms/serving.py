"""What a client needs to pay this gateway: ``GET /v1/payments`` (payee, chain, contract,
price, models, header) and ``GET /v1/payments/model-key/{model}`` (a voucher's ``modelId``)."""

from __future__ import annotations

from typing import Any

from gateway.errors import APIError
from gateway.state import Gateway
from node.core.errors import ConfigError
from node.crypto.eip712 import model_key


def payments_info(gateway: Gateway) -> dict[str, object]:
    """What a client needs to sign vouchers for this gateway."""
    desk = gateway.desk
    return {
        "payee": desk.payee,
        "chain_id": desk.domain.chain_id,
        "payments_contract": desk.domain.verifying_contract,
        "on_chain": gateway.memory_channels is None,
        "price_per_token_wei": desk.price_per_token_wei,
        "default_max_tokens": gateway.settings.default_max_tokens,
        "voucher_min_validity_s": desk.min_validity_s,
        "channel_margin_s": desk.margin_s,  # a channel must stay redeemable this long
        "models": gateway.served_ids(),
        "header": "X-Helio-Voucher",
    }


def channel_receipt(gateway: Gateway, channel: int) -> dict[str, Any]:
    """The payee's signed receipt of ``channel``'s books (a wallet in a new process resumes
    from it: node.client.receipts); 404 ``unknown_channel`` if this gateway never saw it."""
    receipt = gateway.desk.receipt(channel)
    if receipt is None:
        raise APIError(404, f"this gateway has accepted no voucher on channel {channel}; start "
                       "from what the chain redeemed (0 for a new channel)", type="not_found_error",
                       code="unknown_channel", param="channel")
    return receipt.as_json()


def model_key_info(model: str) -> dict[str, str]:
    """``keccak256(model id)``; 400 for an id that cannot be one."""
    try:
        return {"model_id": model, "model_key": "0x" + model_key(model).hex()}
    except ConfigError as exc:
        raise APIError(400, str(exc), param="model") from None
