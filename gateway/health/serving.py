"""``GET /health``: liveness, models, active generations, chain, pending vouchers, the
last redemption error and the request/token/error totals (read from the gateway's
Prometheus registry, as ``GET /metrics`` and the dashboard are)."""

from __future__ import annotations

from typing import Any

from gateway.state import Gateway


def health(gateway: Gateway) -> dict[str, Any]:
    return {
        "status": "ok",
        "models": list(gateway.models),
        "active_generations": gateway.generator.active,
        "chain": gateway.chain.rpc_url if gateway.chain else None,
        "payments": "on-chain" if gateway.memory_channels is None else "off-chain",
        "vouchers_pending": len(gateway.desk.unredeemed()),
        "last_redeem_error": gateway.redeem_loop.last_error,
        "totals": {k: v for k, v in gateway.metrics.snapshot().items() if not k.endswith("_per_minute")},
    }
