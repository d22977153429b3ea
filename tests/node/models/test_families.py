"""The family registry: every built-in family resolves by model_type, describes its
KV cache the same way, slices per-layer config with the span, and refuses what it
cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.models.errors import UnknownFamilyError, UnsupportedConfigError
from node.models.family import KVLayer
from node.models.registry import families, get_family
from node.models.tiny import TINY_CONFIGS, tiny_config, write_tiny_model


def test_registry_knows_the_five_families_and_names_them_when_asked_for_another() -> None:
    assert set(families()) == {"llama", "mistral", "qwen2", "qwen3", "gemma3_text"}
    with pytest.raises(
        UnknownFamilyError, match="known: gemma3_text, llama, mistral, qwen2, qwen3"
    ):
        get_family("gpt_neox")


def test_gemma3_describes_sliding_and_global_layers_and_slices_them() -> None:
    family = get_family("gemma3_text")
    config = tiny_config("gemma3_text", num_hidden_layers=12)
    kinds = family.layer_types(config)
    assert kinds == (["sliding_attention"] * 5 + ["full_attention"]) * 2
    span = family.span_config(config, 4, 7)
    assert span.num_hidden_layers == 3 and span.layer_types == kinds[4:7]
    assert family.kv_layers(span) == [KVLayer(1, 16, 8), KVLayer(1, 16, None), KVLayer(1, 16, 8)]
    assert config.num_hidden_layers == 12  # the original is untouched
    assert family.wire_codec == "bf16" and family.needs_bos


def test_mistral_without_layer_types_slides_on_every_layer_and_qwen2_from_max_window_layers() -> (
    None
):
    mistral = tiny_config("mistral")
    assert {kv.window for kv in get_family("mistral").kv_layers(mistral)} == {8}
    qwen2 = tiny_config("qwen2")
    assert [kv.window for kv in get_family("qwen2").kv_layers(qwen2)] == [None, None, 8, 8, 8]
    llama = tiny_config("llama")
    assert get_family("llama").kv_layers(llama)[0] == KVLayer(2, 16, None)


def test_families_refuse_configs_they_cannot_run() -> None:
    with pytest.raises(UnsupportedConfigError, match="bidirectional"):
        get_family("gemma3_text").check_config(
            tiny_config("gemma3_text", use_bidirectional_attention=True)
        )
    with pytest.raises(UnsupportedConfigError, match="not 'llama'"):
        get_family("llama").check_config(tiny_config("qwen3"))
    config = tiny_config("llama")
    config.layer_types = ["chunked_attention"] * config.num_hidden_layers
    with pytest.raises(UnsupportedConfigError, match="chunked_attention"):
        get_family("llama").check_config(config)


@pytest.mark.parametrize("family", list(TINY_CONFIGS))
def test_tiny_models_are_written_in_the_converted_layout(family: str, tmp_path: Path) -> None:
    from node.core.manifest import Manifest

    model_dir = write_tiny_model(family, tmp_path / family, seed=3)
    manifest = Manifest.load(model_dir)
    assert manifest.family == family and manifest.problems(model_dir) == []
    assert (
        len(manifest.block_files(0, manifest.num_blocks))
        == TINY_CONFIGS[family]["num_hidden_layers"]
    )
