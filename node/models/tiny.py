"""Tiny seeded random models of every family, written in the converted layout
(per-block safetensors + manifest) so tests and docs can run the real engine code on
each family in milliseconds. The weights are random: only exactness can be tested.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from node.core.cid import CID_PARAMS, cid_of_file
from node.core.files import sha256_file
from node.core.manifest import FileEntry, Manifest, ModelSource
from node.models.convert import CONVERTER_VERSION, split_state_dict
from node.models.registry import get_family

_COMMON: dict[str, Any] = dict(
    vocab_size=128, hidden_size=64, intermediate_size=128, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6,
)  # fmt: skip

# One config per family, each exercising what makes the family different.
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "llama": dict(num_hidden_layers=4, tie_word_embeddings=True),
    "mistral": dict(num_hidden_layers=4, sliding_window=8, tie_word_embeddings=False),
    # layers 0-1 full, 2-4 sliding (max_window_layers), biased q/k/v
    "qwen2": dict(num_hidden_layers=5, use_sliding_window=True, sliding_window=8,
                  max_window_layers=2, tie_word_embeddings=False),
    "qwen3": dict(num_hidden_layers=4, head_dim=24, tie_word_embeddings=True),
    # 5 sliding : 1 global, two rope bases, soft-capped logits, one kv head like 270m
    "gemma3_text": dict(num_hidden_layers=7, num_key_value_heads=1, head_dim=16,
                        sliding_window=8, final_logit_softcapping=30.0,
                        query_pre_attn_scalar=16, tie_word_embeddings=True),
}  # fmt: skip


def tiny_config(family: str, **overrides: Any) -> Any:
    from transformers import AutoConfig

    return AutoConfig.for_model(family, **{**_COMMON, **TINY_CONFIGS[family], **overrides})


def write_tiny_model(family: str, out: Path, *, seed: int = 0, **overrides: Any) -> Path:
    """Write a random ``family`` model (fp32) to ``out`` in the converted layout."""
    config = tiny_config(family, **overrides)
    adapter = get_family(config.model_type)
    adapter.check_config(config)
    _, lm_cls = adapter.classes()
    torch.manual_seed(seed)
    model = lm_cls(config).eval()
    # Random init leaves Gemma's norm weights at 0 (= scale 1); perturb every tensor a
    # little so no weight is special-cased by accident.
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    tied = bool(config.tie_word_embeddings)
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out)
    from safetensors.torch import save_file

    groups = split_state_dict(model.state_dict(), config.num_hidden_layers, tied)
    for name, tensors in groups.items():
        save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, out / name)
    files = {
        p.name: FileEntry(sha256=sha256_file(p), size=p.stat().st_size, cid=cid_of_file(p))
        for p in sorted(out.iterdir())
        if p.is_file() and p.name != "manifest.json"
    }
    fingerprint = hashlib.sha256(json.dumps([family, seed, overrides], sort_keys=True).encode())
    Manifest(
        model_id=f"tiny-{family.replace('_', '-')}",
        converter_version=CONVERTER_VERSION,
        family=config.model_type,
        dtype="float32",
        num_blocks=config.num_hidden_layers,
        hidden_size=config.hidden_size,
        tie_word_embeddings=tied,
        source=ModelSource(
            package="random-init",
            file=f"seed-{seed}",
            sha256=fingerprint.hexdigest(),
            license="none",
        ),
        cid_params=dict(CID_PARAMS),
        files=files,
    ).save(out)
    return out
