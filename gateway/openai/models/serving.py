"""``GET /v1/models``: served models that are adopted on-chain (every served model when
no ModelRegistry is deployed)."""

from __future__ import annotations

from gateway.errors import model_not_found
from gateway.openai.models.protocol import ModelCard, ModelList
from gateway.state import Gateway


def list_models(gateway: Gateway) -> ModelList:
    return ModelList(data=[ModelCard(id=m, created=gateway.models[m].created) for m in gateway.served_ids()])


def get_model(gateway: Gateway, model_id: str) -> ModelCard:
    if model_id not in gateway.served_ids():
        raise model_not_found(model_id, gateway.served_ids())
    return ModelCard(id=model_id, created=gateway.models[model_id].created)
