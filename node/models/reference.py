"""The whole model as plain transformers sees it, assembled from a converted model
directory: the baseline that spans are compared against (tests) and timed against
(``helio bench engine``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.core.manifest import EMBEDDINGS_FILE, HEAD_FILE, Manifest, block_file
from node.models.family import assert_materialized, load_config, load_safetensors
from node.models.registry import get_family


def load_full_model(model_dir: Path, *, verify: bool = True) -> Any:
    """The family's ``*ForCausalLM`` with every block, in eval mode."""
    manifest = Manifest.load(model_dir)
    if verify:
        manifest.verify(model_dir)
    family = get_family(manifest.family)
    config = load_config(model_dir)
    family.check_config(config)
    model = family.build_causal_lm(config, manifest.dtype)
    state = load_safetensors(model_dir / EMBEDDINGS_FILE, prefix="model.")
    for name, tensor in load_safetensors(model_dir / HEAD_FILE).items():
        state["model." + name if name.startswith("norm.") else name] = tensor
    for index in range(manifest.num_blocks):
        state.update(
            load_safetensors(model_dir / block_file(index), prefix=f"model.layers.{index}.")
        )
    if manifest.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    if manifest.tie_word_embeddings:
        model.tie_weights()
    assert_materialized(model, f"full model {manifest.model_id}")
    return model.eval()
