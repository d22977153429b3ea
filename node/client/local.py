"""The client's own part of the model: tokenizer, embeddings, final norm and head.

Prompts never leave the client as text: it tokenizes and embeds locally, sends hidden
states through a route, and turns the returned hidden states into logits itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from node.core.manifest import EMBEDDINGS_FILE, HEAD_FILE, Manifest
from node.engine.span import (
    assert_materialized,
    empty_model,
    load_config,
    load_safetensors,
    span_config,
)


class ClientModel(nn.Module):
    """Embeddings + final norm + LM head of one model (no transformer blocks)."""

    def __init__(self, model_dir: Path, *, verify: bool = True) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.manifest = Manifest.load(model_dir)
        if verify:
            self.manifest.verify(model_dir, self.manifest.client_files())
        self.config = load_config(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        # The family's own CausalLM with zero blocks: its embedding class (Gemma scales
        # by sqrt(hidden)), norm and head are exactly the full model's.
        lm = empty_model(AutoModelForCausalLM, span_config(self.config, 0, 0), self.manifest.dtype)
        state = {
            **load_safetensors(model_dir / EMBEDDINGS_FILE, prefix="model."),
            **load_safetensors(model_dir / HEAD_FILE, prefix=""),
        }
        state = {("model." + k if k.startswith("norm.") else k): v for k, v in state.items()}
        if self.manifest.tie_word_embeddings:
            state["lm_head.weight"] = state["model.embed_tokens.weight"]
        lm.load_state_dict(state, strict=False, assign=True)
        self.embed_tokens = lm.model.embed_tokens
        self.norm = lm.model.norm
        self.lm_head = lm.lm_head
        if self.manifest.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        assert_materialized(self, f"client part of {self.manifest.model_id}")
        self.softcap: float | None = getattr(self.config, "final_logit_softcapping", None)
        self.eval()

    @torch.inference_mode()
    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token ids (B, T) → hidden (B, T, H)"""
        return self.embed_tokens(token_ids)

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, T, H) → logits (B, T, V) in float32"""
        logits = self.lm_head(self.norm(hidden)).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        if not self.tokenizer.chat_template:
            raise ValueError(f"{self.manifest.model_id} has no chat template; use a plain prompt")
        ids: Any = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
        return list(ids)

    def stop_token_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        for token in ("<|im_end|>", "<end_of_turn>", "<|endoftext|>"):
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != self.tokenizer.unk_token_id:
                ids.add(token_id)
        return ids
