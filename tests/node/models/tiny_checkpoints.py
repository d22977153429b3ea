"""Tiny checkpoints as a model creator would bring them, made here by transformers
(``save_pretrained``, sharded) and by the ``gguf`` package (a GGUF file in llama.cpp's
layout: its tensor names, Q/K permutation and Gemma's norm offset), for every family.

Weights are random but rounded to multiples of 2**-10, so the GGUF round trip (Gemma's
norm +1 then -1) is exact in float32 and every comparison can be ``torch.equal``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from node.models.registry import get_family
from node.models.tiny import tiny_config

VOCAB = 300  # at most: 256 byte tokens, the special token and merges
CORPUS = ["The capital of France is Paris.", "Hello world, hello swarm!", "the the the capital"] * 20
# Config fields a GGUF does not carry, set to what transformers assumes when reading one.
GGUF_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {},
    "mistral": {"sliding_window": 4096},
    "qwen2": {"use_sliding_window": False, "sliding_window": None},
    "qwen3": {"head_dim": 128},
    "gemma3_text": {"final_logit_softcapping": None, "query_pre_attn_scalar": 256, "head_dim": 16},
}
# llama.cpp has no Mistral architecture: it writes Mistral as llama (and so do we).
GGUF_ARCH = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma3_text": "gemma3"}


def tiny_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    backend.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>")


def tiny_model(family: str, *, for_gguf: bool = False, seed: int = 0) -> Any:
    overrides = {"vocab_size": len(tiny_tokenizer()), **(GGUF_DEFAULTS[family] if for_gguf else {})}
    config = tiny_config(family, **overrides)
    _, lm_cls = get_family(config.model_type).classes()
    torch.manual_seed(seed)
    model = lm_cls(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
            param.copy_(torch.round(param * 1024) / 1024)
    return model


def save_checkpoint(family: str, out: Path, *, shard: bool = True, license_: str = "apache-2.0",
                    for_gguf: bool = False) -> Any:
    """A transformers checkpoint directory (sharded unless ``shard=False``); returns the model."""
    model = tiny_model(family, for_gguf=for_gguf)
    model.save_pretrained(out, max_shard_size="200KB" if shard else "1GB")
    tiny_tokenizer().save_pretrained(out)
    (out / "README.md").write_text(f"---\nlicense: {license_}\n---\n# tiny {family}\n")
    return model


def _permute(weights: torch.Tensor, n_head: int) -> torch.Tensor:
    # llama.cpp's convert_hf_to_gguf permute (transformers reverses it when reading)
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_gguf(model: Any, path: Path, name: str, license_: str = "apache-2.0") -> Path:
    """``model`` and the tiny tokenizer as a float32 GGUF, named ``name`` (general.name)."""
    import gguf

    config = model.config
    arch_name = GGUF_ARCH[config.model_type]
    arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch_name)
    n_blocks = config.num_hidden_layers
    names = gguf.get_tensor_name_map(arch, n_blocks)
    writer = gguf.GGUFWriter(path, arch_name)
    writer.add_name(name)
    writer.add_license(license_)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(n_blocks)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    rope = getattr(config, "rope_parameters", None) or {}
    theta = rope.get("full_attention", rope).get("rope_theta") if isinstance(rope, dict) else None
    writer.add_rope_freq_base(float(theta or getattr(config, "rope_theta", 10000.0)))
    if arch_name == "gemma3":
        writer.add_sliding_window(config.sliding_window)
    tok = tiny_tokenizer()
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    if arch_name == "gemma3":
        # Gemma's GGUF tokenizers are SentencePiece style: its specials first, scores, no merges
        specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
        pieces = specials + [t for t, _ in vocab if t != "<|endoftext|>"][: len(vocab) - len(specials)]
        writer.add_tokenizer_model("llama")
        writer.add_token_list(pieces)
        writer.add_token_types([3] * len(specials) + [1] * (len(pieces) - len(specials)))
        writer.add_token_scores([-float(i) for i in range(len(pieces))])
        writer.add_pad_token_id(0)
        writer.add_eos_token_id(1)
        writer.add_bos_token_id(2)
        writer.add_unk_token_id(3)
        writer.add_add_bos_token(True)
    else:
        writer.add_token_list([t for t, _ in vocab])
        writer.add_token_types([3 if t == "<|endoftext|>" else 1 for t, _ in vocab])
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("default")
        merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
        writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
        writer.add_bos_token_id(tok.bos_token_id)
        writer.add_eos_token_id(tok.eos_token_id)
    tied = bool(config.tie_word_embeddings)
    for key, tensor in model.state_dict().items():
        if tied and key == "lm_head.weight":
            continue
        stem, suffix = key.rsplit(".", 1)
        target = names.get_name(stem)
        assert target is not None, key
        data = tensor.detach().float().clone()
        if arch_name == "llama" and key.endswith("q_proj.weight"):
            data = _permute(data, config.num_attention_heads)
        if arch_name == "llama" and key.endswith("k_proj.weight"):
            data = _permute(data, config.num_key_value_heads)
        if arch_name == "gemma3" and key.endswith("norm.weight"):
            data = data + 1  # llama.cpp stores Gemma's norm scale as 1 + w
        writer.add_tensor(f"{target}.{suffix}", data.numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
