"""Model ids: lowercase ``[a-z0-9-]+`` (no dots, since DHT keys are ``"{model_id}.{block}"``).

The same string is the OpenAI ``model``, the manifest's ``model_id`` and, hashed with
keccak256, the on-chain key.
"""

from __future__ import annotations

import re

from node.core.errors import ConfigError

MODEL_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MODEL_ID_MAX_LENGTH = 64


def validate_model_id(model_id: str) -> str:
    """Return ``model_id`` unchanged if valid, else raise ``ConfigError`` saying why."""
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.fullmatch(model_id):
        raise ConfigError(
            f"invalid model id {model_id!r}: use lowercase letters, digits and single "
            "hyphens, e.g. 'smollm2-135m-instruct'"
        )
    if len(model_id) > MODEL_ID_MAX_LENGTH:
        raise ConfigError(f"model id {model_id!r} is longer than {MODEL_ID_MAX_LENGTH} characters")
    return model_id
