"""A model family adapter: what the engine needs to know about one transformers
``model_type`` so that it never branches on the family.

A family wraps the family's own decoder stack from transformers (``LlamaModel``,
``Gemma3TextModel``…) restricted to blocks ``[start, end)``: hidden states in, hidden
states out, one KV-cache layout (transformers' ``DynamicCache`` layers of shape
``(batch, kv_heads, length, head_dim)``). Most families only name their classes; a
family overrides a method only where it really differs (Gemma-3: BOS, wire codec).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from node.core.errors import ModelCacheError
from node.models.errors import UnsupportedConfigError

KNOWN_LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass(frozen=True)
class KVLayer:
    """The KV cache of one block: ``(kv_heads, tokens, head_dim)`` keys and values."""

    kv_heads: int
    head_dim: int
    window: int | None  # sliding-window layers keep only the last ``window - 1`` tokens

    def cached_tokens(self, length: int) -> int:
        """Tokens this layer keeps for a sequence of ``length`` tokens."""
        return length if self.window is None else min(length, self.window - 1)


def load_config(model_dir: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir)


def empty_model(factory: Any, config: Any, dtype: str) -> Any:
    """Build ``factory`` from ``config`` with parameters on the meta device (no memory,
    no init) but buffers on the CPU: non-persistent buffers (rotary ``inv_freq``, Gemma's
    ``embed_scale``) are computed from the config and never stored in weight files."""
    from accelerate import init_empty_weights

    build = factory.from_config if hasattr(factory, "from_config") else factory._from_config
    with init_empty_weights(include_buffers=False):
        return build(config, dtype=getattr(torch, dtype))


def assert_materialized(module: nn.Module, what: str) -> None:
    on_meta = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if on_meta:
        raise ModelCacheError(f"{what}: tensors were not loaded: {', '.join(on_meta[:5])}")


def load_safetensors(path: Path, prefix: str = "") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {prefix + k: v for k, v in load_file(path).items()}


class Family:
    """Base adapter. Subclasses set ``model_type`` and implement ``classes()``."""

    model_type: ClassVar[str]
    # Activation codec that is safe on the wire for this family (see engine/codecs.py).
    wire_codec: ClassVar[str] = "fp16"
    # The model was trained with <bos> before every text; the client makes sure of it.
    needs_bos: ClassVar[bool] = False
    # Config entries that hold one value per layer and are sliced with the span.
    per_layer_keys: ClassVar[tuple[str, ...]] = ("layer_types",)

    def classes(self) -> tuple[type[nn.Module], type[nn.Module]]:
        """(decoder stack class, causal-LM class) from transformers."""
        raise NotImplementedError

    # --- config ----------------------------------------------------------------------
    def check_config(self, config: Any) -> None:
        """Refuse configs this adapter cannot run exactly (raise UnsupportedConfigError)."""
        if config.model_type != self.model_type:
            raise UnsupportedConfigError(
                f"config is a {config.model_type!r} model, not {self.model_type!r}"
            )
        unknown = set(self.layer_types(config)) - set(KNOWN_LAYER_TYPES)
        if unknown:
            raise UnsupportedConfigError(
                f"{self.model_type}: layer types {sorted(unknown)} are not supported by the engine"
            )

    def layer_types(self, config: Any) -> list[str]:
        types = getattr(config, "layer_types", None)
        if types is not None:
            return list(types)
        kind = "sliding_attention" if getattr(config, "sliding_window", None) else "full_attention"
        return [kind] * config.num_hidden_layers

    def span_config(self, config: Any, start: int, end: int) -> Any:
        """A copy of ``config`` describing only blocks ``[start, end)``."""
        sliced = copy.deepcopy(config)
        sliced.num_hidden_layers = end - start
        for key in self.per_layer_keys:
            values = getattr(config, key, None)
            if values is not None:
                setattr(sliced, key, list(values[start:end]))
        return sliced

    def kv_layers(self, config: Any) -> list[KVLayer]:
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        window = getattr(config, "sliding_window", None)
        return [
            KVLayer(kv_heads, head_dim, window if kind == "sliding_attention" else None)
            for kind in self.layer_types(config)
        ]

    # --- modules ---------------------------------------------------------------------
    def build_body(self, config: Any, dtype: str) -> nn.Module:
        """The decoder stack of ``config`` (already sliced) with parameters on meta, no
        embeddings (the client embeds) and an identity final norm (the client norms)."""
        stack_cls, _ = self.classes()
        body: Any = empty_model(stack_cls, config, dtype)  # a transformers *Model
        body.embed_tokens = None
        body.norm = nn.Identity()
        module: nn.Module = body
        return module

    def build_causal_lm(self, config: Any, dtype: str) -> nn.Module:
        """The whole causal LM (all of ``config``'s blocks) with parameters on meta."""
        _, lm_cls = self.classes()
        model: nn.Module = empty_model(lm_cls, config, dtype)
        return model

    def run_body(
        self,
        body: nn.Module,
        hidden: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """hidden (B, T, H) → hidden (B, T, H); ``cache`` is updated in place."""
        out = body(
            inputs_embeds=hidden,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
        )
        return out.last_hidden_state  # type: ignore[no-any-return]
