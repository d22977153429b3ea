"""The Gemma-3 tokenizer after conversion: real word pieces (not characters) and <bos>
first, as the GGUF says; SmolLM2's BPE is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.client import ClientModel
from node.models.gguf_tokenizer import spm_merges

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_spm_merges_rank_by_the_merged_piece_score() -> None:
    tokens = ["a", "b", "c", "ab", "bc", "abc"]
    scores = [0.0, 0.0, 0.0, -2.0, -1.0, -3.0]
    merges = spm_merges(tokens, scores, [1] * 6)
    assert merges == [("b", "c"), ("a", "b"), ("a", "bc"), ("ab", "c")]


def test_gemma3_tokenizer_gives_word_pieces_and_bos(gemma3_dir: Path) -> None:
    client = ClientModel(gemma3_dir, verify=False)
    ids = client.encode("The capital of France is")
    assert ids == [2, 818, 5279, 529, 7001, 563]
    assert client.tokenizer.convert_ids_to_tokens(ids[1:]) == [
        "The",
        "▁capital",
        "▁of",
        "▁France",
        "▁is",
    ]
    text = "Hello world!\n\tdef f(x):  return x**2 # ünïcødé 日本語 🙂"
    assert client.decode(client.encode(text)) == text


def test_smollm2_tokenizer_adds_no_bos(smollm2_dir: Path) -> None:
    client = ClientModel(smollm2_dir, verify=False)
    assert client.encode("The capital of France is") == [504, 3575, 282, 4649, 314]
