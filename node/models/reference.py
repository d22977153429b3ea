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
    model: Any = family.build_causal_lm(config, manifest.dtype)  # a transformers *ForCausalLM
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


def padded_batch(prompts: list[list[int]], pad_id: int = 0) -> tuple[Any, Any, Any]:
    """Left-padded ``input_ids``, ``attention_mask`` and ``position_ids`` (B, W), the
    layout the engine's batching uses (pads get position 0)."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    positions = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
        positions[row, width - len(prompt) :] = torch.arange(len(prompt))
    return ids, mask, positions


def greedy_reference(
    model: Any, prompts: list[list[int]], steps: int, *, last_only: bool = False
) -> tuple[list[Any], list[list[int]]]:
    """The full model's logits over a prefill and ``steps`` greedy decode steps.

    One prompt: plain ``model(input_ids, past_key_values)`` calls (no mask), as
    ``generate`` would run it. Several: one left-padded batch with an attention mask and
    explicit positions. Returns the logits of every call — (B, W, V) for the prefill,
    then (B, 1, V); (B, 1, V) for the prefill too with ``last_only`` — and the greedy
    tokens chosen for each row."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    keep = 1 if last_only else 0  # 0 = every position
    with torch.inference_mode():
        if len(prompts) == 1:
            out = model(
                input_ids=torch.tensor(prompts),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=keep,
            )
            mask = positions = None
        else:
            ids, mask, positions = padded_batch(prompts)
            out = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=keep,
            )
        logits, tokens = [out.logits], [[] for _ in prompts]  # type: list[Any], list[list[int]]
        lengths = [len(p) for p in prompts]
        for step in range(steps):
            chosen = out.logits[:, -1].argmax(dim=-1)
            for row, token in enumerate(chosen.tolist()):
                tokens[row].append(token)
            if mask is None:
                out = model(input_ids=chosen[:, None], past_key_values=cache, use_cache=True)
            else:
                mask = torch.cat([mask, torch.ones(len(prompts), 1, dtype=torch.long)], dim=1)
                positions = torch.tensor([[length + step] for length in lengths])
                out = model(
                    input_ids=chosen[:, None], attention_mask=mask, position_ids=positions,
                    past_key_values=cache, use_cache=True,
                )  # fmt: skip
            logits.append(out.logits)
    return logits, tokens
