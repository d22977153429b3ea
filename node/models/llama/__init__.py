"""Llama family (SmolLM2, Llama 2/3, TinyLlama): transformers' LlamaModel blocks."""

from node.models.llama.adapter import Llama

__all__ = ["Llama"]
