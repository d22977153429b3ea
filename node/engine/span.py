"""A span: transformer blocks ``[start, end)`` of one model, loaded from their own files.

The family adapter (``node/models/<family>/``) builds the family's own transformers
decoder stack with ``num_hidden_layers = end - start`` (per-layer config lists such as
``layer_types`` sliced), parameters on the meta device, no embeddings and an identity
final norm; the span's block files alone fill it with ``load_state_dict(assign=True)``,
so memory ≈ the span's blocks. The client holds embeddings, final norm and head.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import torch
from torch import nn

import node.engine.kvcache as kvcache
from node.core.errors import ConfigError
from node.core.manifest import Manifest
from node.engine.device import resolve_device
from node.engine.fastpath import FastDecode
from node.models.family import (  # re-exported: older callers import them from here
    assert_materialized,
    empty_model,
    load_config,
    load_safetensors,
)
from node.models.registry import get_family

__all__ = ["Span", "assert_materialized", "empty_model", "load_config", "load_safetensors"]

log = logging.getLogger(__name__)
_BUILD_LOCK = threading.Lock()  # builds of the lean decode step (it may fuse int8 weights)


class Span(nn.Module):
    """Blocks ``[start, end)``; ``forward`` maps hidden states to hidden states.

    ``quant``: ``None`` (the manifest's dtype), ``"int8"``, ``"int8-dynamic"`` or ``"int4"`` (weights of the
    linear layers; see ``node/engine/quant.py``). ``device``: where the blocks and the
    sessions' KV caches live (``node/engine/device.py``); hidden states come and go on
    the CPU (the wire), the forward moves them.
    """

    device = torch.device("cpu")  # set per span in __init__ (a sub-span view copies it)
    # Decode steps (one token, one session) take the lean path of node/engine/fastpath.py
    # where it applies; False sends every step through the family's transformers stack.
    fast_decode = True

    def __init__(
        self,
        model_dir: Path,
        start: int,
        end: int,
        *,
        verify: bool = True,
        quant: str | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        self.device = resolve_device(str(device))  # an absent GPU fails before any loading
        model_dir = Path(model_dir)
        self.manifest = Manifest.load(model_dir)
        self.family = get_family(self.manifest.family)  # UnknownFamilyError first
        if not 0 <= start < end <= self.manifest.num_blocks:
            raise ConfigError(
                f"span [{start}, {end}) is outside {self.manifest.model_id}'s blocks "
                f"[0, {self.manifest.num_blocks})"
            )
        files = self.manifest.block_files(start, end)
        if verify:
            self.manifest.verify(model_dir, files)  # ModelCacheError on a bad sha256
        self.start, self.end = start, end
        full_config = load_config(model_dir)
        self.family.check_config(full_config)
        self.config = self.family.span_config(full_config, start, end)
        self.kv_layers = self.family.kv_layers(self.config)
        body = self.family.build_body(self.config, self.manifest.dtype)
        state: dict[str, torch.Tensor] = {}
        for local, name in enumerate(files):
            state.update(load_safetensors(model_dir / name, prefix=f"layers.{local}."))
        body.load_state_dict(state, strict=True, assign=True)
        assert_materialized(body, f"span {start}:{end} of {self.manifest.model_id}")
        self.body = body.eval()
        self.quant = quant
        if quant is not None:
            from node.engine.quant import quantize_linears

            quantize_linears(self.body, quant)
        if self.device.type != "cpu":
            self.body.to(self.device)

    # --- description -----------------------------------------------------------------
    @property
    def num_blocks(self) -> int:
        return self.end - self.start

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    @property
    def dtype(self) -> torch.dtype:
        return getattr(torch, self.manifest.dtype)  # type: ignore[no-any-return]

    def kv_bytes(self, length: int) -> int:
        """KV-cache bytes one session of ``length`` tokens holds in this span."""
        return kvcache.kv_bytes(self.kv_layers, length, self.dtype.itemsize)

    # --- execution -------------------------------------------------------------------
    def _fast_decode(self) -> FastDecode | None:
        """The lean decode step, built on first use (after any quantization), or None."""
        if not self.fast_decode:
            return None
        if "_fast" not in self.__dict__:
            with _BUILD_LOCK:  # hosts on one span may step it from several threads
                if "_fast" not in self.__dict__:
                    self.__dict__["_fast"] = FastDecode.build(
                        self.body, self.config, self.kv_layers, self.dtype
                    )
        fast: FastDecode | None = self.__dict__["_fast"]
        return fast

    def new_cache(self) -> Any:
        return kvcache.new_cache(self.config)

    @torch.inference_mode()
    def forward(
        self,
        hidden: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None = None,
        *,
        max_length: int | None = None,
    ) -> torch.Tensor:
        """hidden (B, T, H), position_ids (B, T) absolute positions, cache: this span's
        ``DynamicCache`` (updated in place), attention_mask (B, cached + T) with 0 on
        padding, or None for one unpadded sequence; ``max_length``: the most tokens this
        cache will hold (sizes its buffers on the fast path). Returns hidden (B, T, H)."""
        if attention_mask is None and hidden.shape[0] == 1 and hidden.shape[1] == 1:
            fast = self._fast_decode()
            if fast is not None:
                limit = max_length or int(getattr(self.config, "max_position_embeddings", 0))
                out = fast(hidden.to(self.device), position_ids.to(self.device), cache, limit)
                return out if self.device.type == "cpu" else out.cpu()
        if self.device.type == "cpu":
            return self.family.run_body(self.body, hidden, position_ids, cache, attention_mask)
        mask = attention_mask.to(self.device) if attention_mask is not None else None
        out = self.family.run_body(self.body, hidden.to(self.device), position_ids.to(self.device),
                                   cache, mask)
        return out.cpu()
