"""The llama adapter: names transformers' classes; everything else is the default."""

from __future__ import annotations

from torch import nn

from node.models.family import Family
from node.models.registry import register


@register
class Llama(Family):
    model_type = "llama"

    def classes(self) -> tuple[type[nn.Module], type[nn.Module]]:
        from transformers import LlamaForCausalLM, LlamaModel

        return LlamaModel, LlamaForCausalLM
