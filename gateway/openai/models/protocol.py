"""``GET /v1/models``: the models this gateway serves (adopted on-chain when a
ModelRegistry is deployed)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "heliomesh"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
