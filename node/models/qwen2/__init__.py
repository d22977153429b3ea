"""Qwen2 / Qwen2.5 family: biased q/k/v, optional sliding-window layers from max_window_layers."""

from node.models.qwen2.adapter import Qwen2

__all__ = ["Qwen2"]
