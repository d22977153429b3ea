"""The Gemma-3 text adapter.

Differences from the default, all outside the blocks' math (transformers' own
``Gemma3TextModel`` handles per-layer-type rope and sliding-window masks once
``layer_types`` is sliced with the span):

- the residual stream reaches ≈ 1e5, past fp16's 65504: hidden states travel as bf16;
- Gemma was trained with ``<bos>`` before every text (the GGUF says
  ``add_bos_token``); without it the model degenerates ("is is is …");
- bidirectional attention (an encoder variant) is refused.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from node.models.errors import UnsupportedConfigError
from node.models.family import Family
from node.models.registry import register


@register
class Gemma3(Family):
    model_type = "gemma3_text"
    wire_codec = "bf16"
    needs_bos = True

    def classes(self) -> tuple[type[nn.Module], type[nn.Module]]:
        from transformers import Gemma3ForCausalLM, Gemma3TextModel

        return Gemma3TextModel, Gemma3ForCausalLM

    def check_config(self, config: Any) -> None:
        super().check_config(config)
        if getattr(config, "use_bidirectional_attention", False):
            raise UnsupportedConfigError(
                "gemma3_text with bidirectional attention is not a causal LM"
            )
