"""The client's own part of the model: tokenizer, embeddings, final norm and head.

Prompts never leave the client as text: it tokenizes and embeds locally, sends hidden
states through a route, and turns the returned hidden states into logits itself.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from node.core.errors import ConfigError, ModelCacheError
from node.core.manifest import EMBEDDINGS_FILE, HEAD_FILE, Manifest
from node.models.family import assert_materialized, load_config, load_safetensors
from node.models.registry import get_family

STOP_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|endoftext|>", "<|eot_id|>")


class ClientModel(nn.Module):
    """Embeddings + final norm + LM head of one model (no transformer blocks)."""

    def __init__(self, model_dir: Path, *, verify: bool = True) -> None:
        super().__init__()
        self.model_dir = Path(model_dir)
        self.manifest = Manifest.load(self.model_dir)
        self.family = get_family(self.manifest.family)
        if verify:
            self.manifest.verify(self.model_dir, self.manifest.client_files())
        self.config = load_config(self.model_dir)
        self.family.check_config(self.config)
        # The family's own CausalLM with zero blocks: its embedding class (Gemma scales
        # by sqrt(hidden)), norm and head are exactly the full model's.
        lm: Any = self.family.build_causal_lm(  # a transformers *ForCausalLM (untyped)
            self.family.span_config(self.config, 0, 0), self.manifest.dtype
        )
        state = load_safetensors(self.model_dir / EMBEDDINGS_FILE, prefix="model.")
        for name, tensor in load_safetensors(self.model_dir / HEAD_FILE).items():
            state["model." + name if name.startswith("norm.") else name] = tensor
        if self.manifest.tie_word_embeddings:
            state["lm_head.weight"] = state["model.embed_tokens.weight"]
        lm.load_state_dict(state, strict=False, assign=True)
        self.embed_tokens: nn.Embedding = lm.model.embed_tokens  # Gemma's scaled one subclasses it
        self.norm: nn.Module = lm.model.norm
        self.lm_head: nn.Module = lm.lm_head  # nn.Linear; Int8Linear after quantize_head()
        if self.manifest.tie_word_embeddings:
            lm.lm_head.weight = self.embed_tokens.weight
        assert_materialized(self, f"client part of {self.manifest.model_id}")
        self.softcap: float | None = getattr(self.config, "final_logit_softcapping", None)
        self.eval()

    @property
    def hidden_size(self) -> int:
        return self.manifest.hidden_size

    # --- tensors ---------------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token ids (B, T) → hidden (B, T, H), on the CPU (what the wire sends)"""
        return self.embed_tokens(token_ids.to(self.embed_tokens.weight.device)).cpu()  # type: ignore[no-any-return]

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, H) → logits (B, T, V) in float32, on the CPU (where sampling runs)"""
        weight = self.embed_tokens.weight  # the model's device and dtype (the head's, too)
        logits = self.lm_head(self.norm(hidden.to(weight.device, weight.dtype))).float().cpu()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits  # type: ignore[no-any-return]

    def quantize_head(self) -> None:
        """Opt-in: the head as weight-only int8 (our kernel at decode), a quarter of the
        bytes read per token (SmolLM2: 113 → 28 MB, the largest single matmul of a
        token). Logits change slightly (not exact against fp32; ``helio bench engine
        --decode-only`` reports its top-1 agreement), so nothing turns it on by default.
        The embeddings keep their float weights (a tied head gets its own int8 copy)."""
        from node.engine.quant import Int8Linear

        if isinstance(self.lm_head, nn.Linear):
            self.lm_head = Int8Linear.from_linear(self.lm_head)

    # --- text ------------------------------------------------------------------------
    @cached_property
    def tokenizer(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        if not (self.model_dir / "tokenizer_config.json").is_file():
            raise ModelCacheError(f"{self.model_dir} has no tokenizer (a test model?)")
        return AutoTokenizer.from_pretrained(self.model_dir)

    def with_bos(self, ids: list[int]) -> list[int]:
        """Prepend <bos> where the family needs it and the tokenizer did not add it
        (Gemma's GGUF says add_bos_token, which older conversions dropped)."""
        bos = self.tokenizer.bos_token_id
        if self.family.needs_bos and bos is not None and (not ids or ids[0] != bos):
            return [bos, *ids]
        return ids

    def encode(self, text: str) -> list[int]:
        """A plain prompt (base models) → token ids, with <bos> where the model needs it."""
        return self.with_bos(list(self.tokenizer(text)["input_ids"]))

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        if not self.tokenizer.chat_template:
            raise ConfigError(
                f"{self.manifest.model_id} has no chat template (a base model); use a plain prompt"
            )
        ids: Any = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
        return self.with_bos(list(ids))

    def decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def stop_token_ids(self) -> set[int]:
        try:
            tokenizer = self.tokenizer
        except ModelCacheError:
            return set()
        ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        for token in STOP_TOKENS:
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
                ids.add(token_id)
        return ids
