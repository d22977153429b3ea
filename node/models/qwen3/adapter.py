"""The qwen3 adapter: names transformers' classes; everything else is the default."""

from __future__ import annotations

from torch import nn

from node.models.family import Family
from node.models.registry import register


@register
class Qwen3(Family):
    model_type = "qwen3"

    def classes(self) -> tuple[type[nn.Module], type[nn.Module]]:
        from transformers import Qwen3ForCausalLM, Qwen3Model

        return Qwen3Model, Qwen3ForCausalLM
