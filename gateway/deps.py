"""Dependencies injected into routes (``Annotated`` aliases, as in FastAPI's template)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.state import Gateway


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
