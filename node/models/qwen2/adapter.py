"""The qwen2 adapter: names transformers' classes; everything else is the default."""

from __future__ import annotations

from torch import nn

from node.models.family import Family
from node.models.registry import register


@register
class Qwen2(Family):
    model_type = "qwen2"

    def classes(self) -> tuple[type[nn.Module], type[nn.Module]]:
        from transformers import Qwen2ForCausalLM, Qwen2Model

        return Qwen2Model, Qwen2ForCausalLM
