"""Mistral family: Llama blocks with a sliding window on every layer (when the config sets one)."""

from node.models.mistral.adapter import Mistral

__all__ = ["Mistral"]
