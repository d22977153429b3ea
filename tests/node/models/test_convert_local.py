"""Bring your own model: `helio model convert --hf-dir / --gguf` for every registered
family, exact against transformers, and one clear line for each bad source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_checkpoints import save_checkpoint, tiny_model, tiny_tokenizer, write_gguf

from node.core.errors import ModelSourceError
from node.core.manifest import Manifest
from node.models.convert_local import convert_local
from node.models.local_source import inspect_gguf, inspect_hf_dir
from node.models.reference import load_full_model
from node.models.registry import families

FAMILIES = sorted(families())
TEXT = "The capital of France is Paris. Hello swarm!"  # > the tiny sliding windows (8)


def _assert_same_model(model_dir: Path, original: Any) -> None:
    ids = torch.tensor([tiny_tokenizer()(TEXT)["input_ids"]])
    assert ids.shape[1] > 8
    with torch.no_grad():
        expected = original(ids).logits
        converted = load_full_model(model_dir)(ids).logits
    assert torch.equal(converted, expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_convert_hf_dir_sharded_is_exact_for_every_family(family: str, tmp_path: Path) -> None:
    ckpt = tmp_path / "My_Tiny.Model"
    original = save_checkpoint(family, ckpt)
    assert len(list(ckpt.glob("model-*.safetensors"))) > 1  # really sharded

    result = convert_local(inspect_hf_dir(ckpt), "fp32", tmp_path / "cache", progress=False)

    manifest = Manifest.load(result.model_dir)
    assert manifest.model_id == "my-tiny-model"  # from the directory name
    assert manifest.family == original.config.model_type
    assert manifest.num_blocks == original.config.num_hidden_layers
    assert (manifest.source.package, manifest.source.file, manifest.source.license) == ("hf-dir", ckpt.name, "apache-2.0")
    assert set(manifest.block_files(0, manifest.num_blocks)) <= set(manifest.files)
    assert manifest.problems(result.model_dir) == []
    _assert_same_model(result.model_dir, original)
    from transformers import AutoTokenizer

    converted_tok = AutoTokenizer.from_pretrained(result.model_dir)
    assert converted_tok(TEXT)["input_ids"] == tiny_tokenizer()(TEXT)["input_ids"]


@pytest.mark.parametrize("family", FAMILIES)
def test_convert_gguf_is_exact_for_every_family(family: str, tmp_path: Path) -> None:
    original = tiny_model(family, for_gguf=True)
    gguf = write_gguf(original, tmp_path / "tiny.gguf", f"Tiny {family}", license_="mit")

    source = inspect_gguf(gguf)
    result = convert_local(source, "fp32", tmp_path / "cache", progress=False)

    manifest = result.manifest
    expected_family = "llama" if family == "mistral" else family  # llama.cpp writes Mistral as llama
    assert manifest.family == expected_family
    assert manifest.model_id == f"tiny-{family.replace('_', '-')}"  # from general.name
    assert (manifest.source.package, manifest.source.file, manifest.source.license) == ("gguf", "tiny.gguf", "mit")
    _assert_same_model(result.model_dir, original)
    from transformers import AutoTokenizer

    converted_tok = AutoTokenizer.from_pretrained(result.model_dir)
    if family == "gemma3_text":  # its test GGUF has a SentencePiece-style vocabulary: <bos> first
        assert converted_tok("Hello")["input_ids"][0] == 2
    else:  # a GPT-2 style BPE with merges: the same ids as the original tokenizer
        assert converted_tok(TEXT)["input_ids"] == tiny_tokenizer()(TEXT)["input_ids"]


def test_convert_single_file_checkpoint_is_reused_and_a_different_model_under_its_id_refused(tmp_path: Path) -> None:
    ckpt = tmp_path / "one"
    original = save_checkpoint("llama", ckpt, shard=False)
    assert (ckpt / "model.safetensors").is_file()
    first = convert_local(inspect_hf_dir(ckpt, "mine", "mit"), "fp32", tmp_path / "cache", progress=False)
    _assert_same_model(first.model_dir, original)
    assert first.manifest.source.license == "mit"  # --license wins over the README
    again = convert_local(inspect_hf_dir(ckpt, "mine", "mit"), "fp32", tmp_path / "cache", progress=False)
    assert again.reused

    other = tmp_path / "other"
    save_checkpoint("qwen3", other, shard=False)
    with pytest.raises(ModelSourceError, match="another model is already converted as 'mine'.*another --id or pass --force"):
        convert_local(inspect_hf_dir(other, "mine"), "fp32", tmp_path / "cache", progress=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint("qwen2", path)
    return path


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_hf_dir_with_an_unsupported_architecture_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    bad = _copy(checkpoint, tmp_path / "gpt2")
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ModelSourceError, match=r"unsupported architecture: no adapter for model family 'gpt2'; known: gemma3_text, llama"):
        inspect_hf_dir(bad)


def test_hf_dir_without_a_tokenizer_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    bad = _copy(checkpoint, tmp_path / "notok")
    (bad / "tokenizer.json").unlink()
    with pytest.raises(ModelSourceError, match=r"no tokenizer \(tokenizer.json or tokenizer.model or vocab.json\)"):
        inspect_hf_dir(bad)


def test_hf_dir_with_a_truncated_or_missing_shard_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    bad = _copy(checkpoint, tmp_path / "cut")
    shard = sorted(bad.glob("model-*.safetensors"))[1]
    with shard.open("r+b") as f:
        f.truncate(shard.stat().st_size - 10)
    with pytest.raises(ModelSourceError, match=rf"{shard.name} is truncated \(\d+ bytes, its header says \d+\); copy it again"):
        inspect_hf_dir(bad)
    shard.unlink()
    with pytest.raises(ModelSourceError, match=rf"shard {shard.name} listed in model.safetensors.index.json is missing"):
        inspect_hf_dir(bad)


def test_hf_dir_without_a_license_or_a_usable_id_says_what_to_pass(checkpoint: Path, tmp_path: Path) -> None:
    bad = _copy(checkpoint, tmp_path / "nolicense")
    (bad / "README.md").unlink()
    with pytest.raises(ModelSourceError, match="no license found.*pass --license"):
        inspect_hf_dir(bad)
    assert inspect_hf_dir(bad, license_="mit").license == "mit"
    with pytest.raises(ValueError, match="invalid model id 'Bad.Id'"):
        inspect_hf_dir(bad, "Bad.Id", "mit")


def test_truncated_gguf_and_gguf_without_tokenizer_are_refused(tmp_path: Path) -> None:
    gguf = write_gguf(tiny_model("llama", for_gguf=True), tmp_path / "t.gguf", "t")
    data = gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelSourceError, match=r"cut.gguf is truncated"):
        inspect_gguf(cut)
    import gguf as gguf_lib

    reader = gguf_lib.GGUFReader(gguf)
    writer = gguf_lib.GGUFWriter(tmp_path / "notok.gguf", "llama")
    writer.add_name("notok")
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data.copy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelSourceError, match=r"no tokenizer \(tokenizer.ggml.tokens\) in the GGUF"):
        inspect_gguf(tmp_path / "notok.gguf")


@pytest.mark.slow
def test_cli_converts_an_hf_dir_lists_its_cid_and_refuses_a_truncated_shard_in_one_line(
    checkpoint: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from node.cli.main import app
    from node.ipfs.publish import manifest_cid

    cache = str(tmp_path / "cache")
    runner = CliRunner()
    ok = runner.invoke(app, ["model", "convert", "--hf-dir", str(checkpoint), "--id", "tiny-qwen", "--cache-dir", cache],
                       env={"COLUMNS": "300"})
    assert ok.exit_code == 0, ok.output
    assert "converted tiny-qwen (qwen2, float32, 5 blocks" in ok.output and "license apache-2.0" in ok.output
    cid = manifest_cid(tmp_path / "cache" / "models" / "tiny-qwen" / "float32")
    assert cid in ok.output
    listed = runner.invoke(app, ["model", "list", "--cache-dir", cache], env={"COLUMNS": "300"})
    assert "tiny-qwen" in listed.output and cid in listed.output

    bad = _copy(checkpoint, tmp_path / "cut")
    shard = sorted(bad.glob("model-*.safetensors"))[0]
    shard.write_bytes(shard.read_bytes()[:-1])
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "model", "convert", "--hf-dir", str(bad), "--cache-dir", cache],
        capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "300"},
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and f"{shard.name} is truncated" in lines[0], proc.stderr
