"""Repairs to the tokenizer transformers builds from a GGUF file.

transformers 5.17 loses two things on the way from a SentencePiece-style GGUF
(``tokenizer.ggml.model == "llama"``, vocabulary + scores, no merges) such as
Gemma-3's:

- the merges: the tokenizer it converts is a Unigram model over the scores (which
  splits "capital" into "▁c", "ap", "it", "al"), and once saved, ``GemmaTokenizer``
  reloads it as a BPE model with no merges at all, which splits every word into
  single characters. Neither is what the model was trained on. SentencePiece BPE
  merges the adjacent pair whose merged piece scores highest, so the merges are
  rebuilt from the scores (what llama.cpp does at run time) and saved;
- ``add_bos_token``: Gemma must see ``<bos>`` first and its GGUF says so.

Checked on Gemma-3-270m: "The capital of France is" → [2, 818, 5279, 529, 7001, 563]
(<bos> The ▁capital ▁of ▁France ▁is), the ids Google's own tokenizer gives.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from node.core.errors import ModelSourceError

log = logging.getLogger(__name__)

NORMAL = 1  # gguf token type of ordinary pieces (3 control, 4 user defined, 6 byte)


def read_tokenizer_fields(gguf: Path) -> dict[str, Any]:
    import gguf as gguf_lib

    reader = gguf_lib.GGUFReader(gguf)

    def value(name: str) -> Any:
        field = reader.fields.get(name)
        if field is None:
            return None
        if field.types and field.types[0] == gguf_lib.GGUFValueType.ARRAY:
            if field.types[-1] == gguf_lib.GGUFValueType.STRING:
                return [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            return [field.parts[i][0].item() for i in field.data]
        part = field.parts[field.data[0]]
        if field.types[0] == gguf_lib.GGUFValueType.STRING:
            return bytes(part).decode("utf-8")
        return part[0].item()

    return {
        "model": value("tokenizer.ggml.model"),
        "has_merges": "tokenizer.ggml.merges" in reader.fields,
        "add_bos_token": value("tokenizer.ggml.add_bos_token"),
        "tokens": value("tokenizer.ggml.tokens"),
        "scores": value("tokenizer.ggml.scores"),
        "token_type": value("tokenizer.ggml.token_type"),
    }


def spm_merges(tokens: list[str], scores: list[float], types: list[int]) -> list[tuple[str, str]]:
    """BPE merges equivalent to SentencePiece-BPE scoring: every way to build a piece
    from two pieces, ranked by the merged piece's score (highest first)."""
    ids = {token: i for i, token in enumerate(tokens)}
    ranked: list[tuple[float, float, float, str, str]] = []
    for i, piece in enumerate(tokens):
        if types[i] != NORMAL or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in ids and right in ids:
                ranked.append((scores[i], scores[ids[left]], scores[ids[right]], left, right))
    ranked.sort(key=lambda m: (m[0], m[1], m[2]), reverse=True)
    return [(left, right) for *_, left, right in ranked]


def _piece(token: str) -> str:
    # GGUF stores runs of spaces as spaces; the tokenizer's normalizer turns them into ▁
    return "▁" * len(token) if token and not token.strip(" ") else token


def repair_tokenizer(tokenizer: Any, gguf: Path) -> Any:
    """Fix ``tokenizer`` (loaded by transformers from ``gguf``) in place; return it."""
    from tokenizers import models

    fields = read_tokenizer_fields(gguf)
    if fields["add_bos_token"]:
        tokenizer.add_bos_token = True
    if fields["model"] != "llama" or fields["has_merges"]:
        return tokenizer  # a GPT-2 style BPE with its merges (SmolLM2): nothing lost
    tokens = [_piece(t) for t in fields["tokens"]]
    vocab = {token: i for i, token in enumerate(tokens)}
    specials = {t: tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens}
    if len(vocab) != len(tokens) or any(vocab.get(t) != i for t, i in specials.items()):
        raise ModelSourceError(f"{gguf.name}: the GGUF vocabulary does not match transformers' tokenizer")
    merges = spm_merges(tokens, fields["scores"], fields["token_type"])
    log.info("rebuilt %d BPE merges from the GGUF scores of %s", len(merges), gguf.name)
    tokenizer.backend_tokenizer.model = models.BPE(
        vocab=vocab, merges=merges, byte_fallback=True, unk_token=tokenizer.unk_token, fuse_unk=True
    )
    return tokenizer
