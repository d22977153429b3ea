"""The mistral adapter: names transformers' classes; everything else is the default."""

from __future__ import annotations

from torch import nn

from node.models.family import Family
from node.models.registry import register


@register
class Mistral(Family):
    model_type = "mistral"

    def classes(self) -> tuple[type[nn.Module], type[nn.Module]]:
        from transformers import MistralForCausalLM, MistralModel

        return MistralModel, MistralForCausalLM
