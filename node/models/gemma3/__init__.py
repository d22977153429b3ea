"""Gemma-3 (text) family: 5 sliding-window : 1 global layers, a rope per layer type,
scaled embeddings and soft-capped logits on the client side."""

from node.models.gemma3.adapter import Gemma3

__all__ = ["Gemma3"]
