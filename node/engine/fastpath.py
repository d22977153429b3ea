"""The lean decode step: one token of one session through a span, without transformers'
per-call machinery.

A decode step at batch 1 is 7 small GEMVs per block plus a few dozen tiny tensor
operations; at SmolLM2's size the GEMVs are ≈ 1 ms per block, so what runs *around* them
counts: transformers' output-capturing wrappers, mask creation, ``nn.Module.__call__``
(hooks, tracing checks) for ~15 modules per block, the attention-interface lookup, config
attribute lookups, and a ``torch.cat`` of the whole KV cache per block and token (which
grows with the context). ``FastDecode`` runs the very same tensor operations as
transformers' llama-style decoder layers (``LlamaDecoderLayer`` and the identical
Mistral / Qwen2 / Qwen3 ones), in the same order on the same weights, so its output is
``torch.equal`` to transformers' (the exactness tests compare them); only the Python
around them is gone, and the KV cache grows in place (``kvcache.append_kv``).

It takes a step only when transformers would take the simplest path itself: one session,
one new token, no padding mask, ``sdpa`` attention, no sliding-window layer, a
llama-shaped block. Everything else (prefill, speculative multi-token steps, batched
sessions, Gemma-3) goes through the family's transformers stack, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from node.engine.kvcache import append_kv
from node.engine.quant import Int8Linear, fuse_int8
from node.models.family import KVLayer

# RMSNorm classes whose forward is exactly ``_rms_norm`` below (transformers 5.x).
RMS_NORMS = frozenset({"LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm", "Qwen3RMSNorm"})
# Decoder layers with llama's forward (pre-norm attention, pre-norm gated MLP).
LAYERS = frozenset({"LlamaDecoderLayer", "MistralDecoderLayer", "Qwen2DecoderLayer",
                    "Qwen3DecoderLayer"})  # fmt: skip

Linear = Callable[[torch.Tensor], torch.Tensor]
Norm = tuple[torch.Tensor, float]  # (weight, eps)


def _rms_norm(x: torch.Tensor, norm: Norm) -> torch.Tensor:
    """transformers' ``LlamaRMSNorm.forward``, operation for operation (the casts are
    no-ops for float32 and skipped)."""
    if x.dtype == torch.float32:
        return norm[0] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm[1]))
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + norm[1])
    return norm[0] * h.to(x.dtype)


def _linear(module: nn.Module, dtype: torch.dtype) -> Linear:
    """The module's own computation without ``nn.Module.__call__`` around it."""
    if type(module) is nn.Linear:
        weight, bias = module.weight, module.bias
        return lambda x: F.linear(x, weight, bias)
    if isinstance(module, Int8Linear) and dtype == torch.float32:
        return module.decode_linear()  # the int8 kernel, resolved once
    return module.forward  # Int4Linear / fbgemm dynamic / int8 on torch: their forward


def _together(
    modules: list[nn.Module], dtype: torch.dtype
) -> Callable[[torch.Tensor], Sequence[torch.Tensor]]:
    """Linears of the same input, run as one int8 kernel call where they are int8 (the
    same values, ``quant.fuse_int8``); float ones stay separate calls, since one GEMM over
    concatenated float weights is not guaranteed to round each output as the separate
    GEMMs do (the fp32 path must stay bit for bit transformers')."""
    if dtype == torch.float32 and (fused := fuse_int8(modules)) is not None:
        return fused
    linears = [_linear(m, dtype) for m in modules]
    return lambda x: [linear(x) for linear in linears]


def _call(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """A module's ``forward`` (no ``__call__`` machinery), any other callable itself."""
    return fn.forward if isinstance(fn, nn.Module) else fn


def _norm(module: nn.Module) -> Norm | None:
    if type(module).__name__ not in RMS_NORMS:
        return None
    norm: Any = module  # a transformers RMSNorm: weight and variance_epsilon
    return norm.weight, float(norm.variance_epsilon)


@dataclass(frozen=True, slots=True)
class _Block:
    index: int  # the block's layer index in the span (and in its cache)
    norm_in: Norm
    norm_post: Norm
    q_norm: Norm | None  # Qwen3 normalises each head's queries and keys
    k_norm: Norm | None
    qkv: Callable[[torch.Tensor], Sequence[torch.Tensor]]  # x → (q, k, v)
    o: Linear
    gate_up: Callable[[torch.Tensor], Sequence[torch.Tensor]]  # x → (gate, up)
    down: Linear
    act: Callable[[torch.Tensor], torch.Tensor]
    heads: int
    kv_heads: int
    head_dim: int
    scaling: float


class FastDecode:
    """``__call__(hidden (1, 1, H), position_ids (1, 1), cache) -> hidden (1, 1, H)``, or
    ``None`` from ``build`` when the span's blocks are not ones it can run exactly."""

    def __init__(self, rotary: nn.Module, blocks: list[_Block]) -> None:
        self.rotary = rotary
        self.blocks = blocks

    @classmethod
    def build(
        cls, body: nn.Module, config: Any, kv_layers: Sequence[KVLayer], dtype: torch.dtype
    ) -> FastDecode | None:
        if getattr(config, "_attn_implementation", None) != "sdpa":
            return None
        if any(kv.window is not None for kv in kv_layers):
            return None  # sliding windows need transformers' masks and cache layers
        rotary = getattr(body, "rotary_emb", None)
        layers = getattr(body, "layers", None)
        if rotary is None or layers is None:
            return None
        blocks = [_block(index, layer, dtype) for index, layer in enumerate(layers)]
        if any(block is None for block in blocks):
            return None
        return cls(rotary, [b for b in blocks if b is not None])

    def __call__(
        self, hidden: torch.Tensor, position_ids: torch.Tensor, cache: Any, max_length: int
    ) -> torch.Tensor:
        # cos/sin once per step for every block (transformers does the same)
        cos, sin = self.rotary(hidden, position_ids=position_ids)
        cos = cos.unsqueeze(1)  # (1, 1, 1, D) against (1, heads, 1, D)
        # rotate_half(x) * sin == flip_halves(x) * (sin with its first half negated), bit
        # for bit (a sign flip is exact), once per step instead of per block
        half = sin.shape[-1] // 2
        sin = torch.cat((-sin[..., :half], sin[..., half:]), dim=-1).unsqueeze(1)
        layers = cache.layers
        for b in self.blocks:
            residual = hidden
            x = _rms_norm(hidden, b.norm_in)
            q, k, v = b.qkv(x)
            q = q.view(1, 1, b.heads, b.head_dim)
            k = k.view(1, 1, b.kv_heads, b.head_dim)
            v = v.view(1, 1, b.kv_heads, b.head_dim).transpose(1, 2)
            if b.q_norm is not None and b.k_norm is not None:
                q, k = _rms_norm(q, b.q_norm), _rms_norm(k, b.k_norm)
            q, k = q.transpose(1, 2), k.transpose(1, 2)
            q = (q * cos) + (_swap_halves(q) * sin)
            k = (k * cos) + (_swap_halves(k) * sin)
            keys, values = append_kv(layers[b.index], k, v, max_length)
            attn = F.scaled_dot_product_attention(
                q, keys, values, scale=b.scaling, enable_gqa=b.heads != b.kv_heads
            )
            hidden = residual + b.o(attn.transpose(1, 2).reshape(1, 1, -1))
            residual = hidden
            x = _rms_norm(hidden, b.norm_post)
            gate, up = b.gate_up(x)
            hidden = residual + b.down(b.act(gate) * up)
        return hidden


def _swap_halves(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) → (x2, x1) along the last dim: transformers' ``rotate_half`` without its
    negation, which the step folds into ``sin`` (a copy, so exact)."""
    return torch.roll(x, x.shape[-1] // 2, dims=-1)


def _block(index: int, layer: nn.Module, dtype: torch.dtype) -> _Block | None:
    """The block's weights and callables, or None where its forward is not llama's."""
    if type(layer).__name__ not in LAYERS or layer._forward_hooks or layer._forward_pre_hooks:
        return None
    attn: Any = getattr(layer, "self_attn", None)
    mlp: Any = getattr(layer, "mlp", None)
    norm_in = _norm(getattr(layer, "input_layernorm", None) or nn.Identity())
    norm_post = _norm(getattr(layer, "post_attention_layernorm", None) or nn.Identity())
    if attn is None or mlp is None or norm_in is None or norm_post is None:
        return None
    q_norm = _norm(attn.q_norm) if hasattr(attn, "q_norm") else None
    k_norm = _norm(attn.k_norm) if hasattr(attn, "k_norm") else None
    if hasattr(attn, "q_norm") != (q_norm is not None) or hasattr(attn, "k_norm") != (k_norm is not None):
        return None
    config = attn.config
    if getattr(attn, "sliding_window", None) or getattr(config, "attention_dropout", 0.0):
        return None
    heads, head_dim = int(config.num_attention_heads), int(attn.head_dim)
    kv_heads = int(config.num_key_value_heads)
    if heads // kv_heads != attn.num_key_value_groups or heads % kv_heads:
        return None
    return _Block(
        index=index, norm_in=norm_in, norm_post=norm_post, q_norm=q_norm, k_norm=k_norm,
        qkv=_together([attn.q_proj, attn.k_proj, attn.v_proj], dtype),
        o=_linear(attn.o_proj, dtype),
        gate_up=_together([mlp.gate_proj, mlp.up_proj], dtype),
        down=_linear(mlp.down_proj, dtype), act=_call(mlp.act_fn), heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, scaling=float(attn.scaling),
    )  # fmt: skip
