"""Qwen3 family: q/k RMS norms, explicit head_dim, optional sliding-window layers."""

from node.models.qwen3.adapter import Qwen3

__all__ = ["Qwen3"]
