"""A span: transformer blocks ``[start, end)`` of one model, loaded from their own files.

The span body is the family's own transformers model class, built with its parameters
on the meta device, with ``num_hidden_layers = end - start`` (and ``layer_types`` sliced, for families that
mix sliding-window and global layers), then filled with ``load_state_dict(assign=True)``
from the span's block files only: memory ≈ the span's blocks. Embeddings and the final
norm are not part of a span (``norm`` is an identity); the client holds them.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from node.core.errors import ModelCacheError
from node.core.manifest import Manifest

log = logging.getLogger(__name__)


def load_config(model_dir: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_dir)


def span_config(config: Any, start: int, end: int) -> Any:
    """A copy of ``config`` describing only blocks ``[start, end)``."""
    sliced = copy.deepcopy(config)
    sliced.num_hidden_layers = end - start
    if getattr(config, "layer_types", None) is not None:
        sliced.layer_types = list(config.layer_types[start:end])
    return sliced


def empty_model(factory: Any, config: Any, dtype: str) -> Any:
    """Build ``factory.from_config(config)`` with parameters on the meta device (no memory,
    no init) but buffers on the CPU: non-persistent buffers (rotary ``inv_freq``, Gemma's
    ``embed_scale``) are computed from the config and never stored in weight files."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return factory.from_config(config, dtype=getattr(torch, dtype))


def assert_materialized(module: nn.Module, what: str) -> None:
    on_meta = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if on_meta:
        raise ModelCacheError(f"{what}: tensors were not loaded: {', '.join(on_meta[:5])}")


def load_safetensors(path: Path, prefix: str = "") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {prefix + k: v for k, v in load_file(path).items()}


class Span(nn.Module):
    """Blocks ``[start, end)``; ``forward`` maps hidden states to hidden states."""

    def __init__(self, model_dir: Path, start: int, end: int, *, verify: bool = True) -> None:
        super().__init__()
        from transformers import AutoModel

        self.manifest = Manifest.load(model_dir)
        files = self.manifest.block_files(start, end)
        if verify:
            self.manifest.verify(model_dir, files)
        self.start, self.end = start, end
        self.config = span_config(load_config(model_dir), start, end)
        body = empty_model(AutoModel, self.config, self.manifest.dtype)
        body.embed_tokens = None  # the client embeds
        body.norm = nn.Identity()  # the client applies the final norm
        state: dict[str, torch.Tensor] = {}
        for local, name in enumerate(files):
            state.update(load_safetensors(model_dir / name, prefix=f"layers.{local}."))
        body.load_state_dict(state, strict=True, assign=True)
        assert_materialized(body, f"span {start}:{end} of {self.manifest.model_id}")
        self.body = body.eval()

    @property
    def num_blocks(self) -> int:
        return self.end - self.start

    @torch.inference_mode()
    def forward(self, hidden: torch.Tensor, position_ids: torch.Tensor, cache: Any) -> torch.Tensor:
        """hidden (B, T, H), position_ids (B, T) absolute positions, cache: this span's
        ``DynamicCache`` (updated in place). Returns hidden (B, T, H)."""
        out = self.body(
            inputs_embeds=hidden, position_ids=position_ids, past_key_values=cache, use_cache=True
        )
        return out.last_hidden_state

    def new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.config)
