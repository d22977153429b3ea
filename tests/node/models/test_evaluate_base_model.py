"""`helio model evaluate` on a base model (no chat template, like Gemma-3-270m) times the
decode on a plain-text prompt instead of refusing (issue #15)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_checkpoints import save_checkpoint

from node.bench.evaluate import evaluate_model
from node.models.convert_local import convert_local
from node.models.local_source import inspect_hf_dir


@pytest.mark.slow
def test_a_base_model_is_evaluated_on_plain_text(tmp_path: Path) -> None:
    save_checkpoint("llama", tmp_path / "base", shard=False)
    converted = convert_local(inspect_hf_dir(tmp_path / "base", "tiny-base"), "fp32", tmp_path / "cache", progress=False)
    from transformers import AutoTokenizer

    assert not AutoTokenizer.from_pretrained(converted.model_dir).chat_template  # a base model
    result = evaluate_model(converted.model_dir, watts=100.0, decode_tokens=2, quality_tokens=16)
    assert result.model_id == "tiny-base" and result.tokens_per_s > 0 and result.quality_tokens == 16
