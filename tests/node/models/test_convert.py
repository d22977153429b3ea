"""`helio model convert` on the real SmolLM2 GGUF from PyPI: per-block files, manifest,
cache reuse, rebuild of damaged files, and clear errors for bad sources."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from node.core.cid import cid_of_file
from node.core.errors import ModelSourceError
from node.core.manifest import EMBEDDINGS_FILE, HEAD_FILE, Manifest, block_file
from node.models import convert as convert_mod
from node.models.convert import convert_model
from node.models.sources import SOURCES, ModelSourceSpec

pytestmark = pytest.mark.model


def test_convert_writes_one_verified_file_per_block(smollm2_dir: Path) -> None:
    manifest = Manifest.load(smollm2_dir)
    assert (manifest.model_id, manifest.family, manifest.num_blocks) == ("smollm2-135m-instruct", "llama", 30)
    assert manifest.tie_word_embeddings and manifest.hidden_size == 576
    assert set(manifest.block_files(0, 30)) | {EMBEDDINGS_FILE, HEAD_FILE, "config.json", "tokenizer.json"} <= set(manifest.files)
    assert manifest.problems(smollm2_dir) == []
    with safe_open(smollm2_dir / block_file(7), "pt") as f:
        keys = set(f.keys())
    assert "self_attn.q_proj.weight" in keys and not any(k.startswith(("model.", "layers.")) for k in keys)
    with safe_open(smollm2_dir / HEAD_FILE, "pt") as f:
        assert set(f.keys()) == {"norm.weight"}  # tied head: no second copy of the embeddings
    entry = manifest.files[block_file(0)]
    assert entry.cid == cid_of_file(smollm2_dir / block_file(0))


def test_convert_reuses_an_intact_cache(smollm2_dir: Path) -> None:
    result = convert_model("smollm2-135m-instruct", "fp32", smollm2_dir.parents[2], progress=False)
    assert result.reused and result.model_dir == smollm2_dir


@pytest.mark.slow
def test_convert_rebuilds_corrupt_and_truncated_files(
    smollm2_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = tmp_path / "models" / "smollm2-135m-instruct" / "float32"
    shutil.copytree(smollm2_dir, damaged)
    block = damaged / block_file(3)
    data = bytearray(block.read_bytes())
    data[len(data) // 2] ^= 0x01
    block.write_bytes(bytes(data))
    with open(damaged / HEAD_FILE, "r+b") as f:
        f.truncate(100)

    with caplog.at_level(logging.WARNING):
        result = convert_model("smollm2-135m-instruct", "fp32", tmp_path, progress=False)

    assert not result.reused
    assert "block_003.safetensors is corrupt (sha256 mismatch)" in caplog.text
    assert "head.safetensors is truncated or corrupt" in caplog.text
    assert result.manifest.problems(damaged) == []
    original = Manifest.load(smollm2_dir)  # conversion is deterministic: same files again
    assert {n: e for n, e in result.manifest.files.items() if original.files.get(n) != e} == {}
    assert result.manifest == original
    assert sorted(p.name for p in damaged.parent.iterdir()) == ["float32"]  # no temp dirs left


def _fake_source(tmp_path: Path, content: bytes, sha256: str) -> ModelSourceSpec:
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(content)
    return ModelSourceSpec(
        model_id="broken-model", package="broken==1", gguf_name=gguf.name, sha256=sha256,
        license="none", locate=lambda _cache: gguf, chat=False,
    )


def test_convert_rejects_an_unreadable_gguf_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    content = b"GGUF" + b"\x00" * 64  # right magic, garbage after it
    spec = _fake_source(tmp_path, content, hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(SOURCES, spec.model_id, spec)
    cache = tmp_path / "cache"
    with pytest.raises(ModelSourceError, match="cannot read GGUF"):
        convert_model(spec.model_id, "fp32", cache, progress=False)
    leftovers = [p for p in cache.rglob("*") if p.is_file()]
    assert leftovers == []


def test_convert_rejects_a_gguf_whose_hash_differs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _fake_source(tmp_path, b"GGUF tampered", "0" * 64)
    monkeypatch.setitem(SOURCES, spec.model_id, spec)
    with pytest.raises(ModelSourceError, match=r"sha256 mismatch.*--force-reinstall --no-deps broken==1"):
        convert_model(spec.model_id, "fp32", tmp_path, progress=False)


def test_convert_unknown_model_and_dtype_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match="unknown model 'gpt-9'; known: gemma3-270m, smollm2-135m-instruct"):
        convert_model("gpt-9", "fp32", tmp_path)
    with pytest.raises(ValueError, match="use one of fp32, bf16, fp16"):
        convert_mod.normalize_dtype("int3")


def test_cli_prints_one_error_line_and_exits_nonzero(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "model", "convert", "gpt-9", "--cache-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown model 'gpt-9'" in lines[0], proc.stderr


@pytest.mark.slow
def test_convert_bf16_halves_the_blocks_and_still_answers(smollm2_dir: Path, tmp_path: Path) -> None:
    from node.client import ClientModel, SamplingParams, chat
    from node.engine import InProcessRoute, Span

    result = convert_model("smollm2-135m-instruct", "bf16", tmp_path, progress=False)
    with safe_open(result.model_dir / block_file(0), "pt") as f:
        assert str(f.get_tensor("mlp.up_proj.weight").dtype) == "torch.bfloat16"
    fp32 = Manifest.load(smollm2_dir)
    ratio = result.manifest.files[block_file(0)].size / fp32.files[block_file(0)].size
    assert 0.49 < ratio < 0.51
    client = ClientModel(result.model_dir)
    route = InProcessRoute([Span(result.model_dir, 0, 12), Span(result.model_dir, 12, 30)])
    answer = chat(client, route, [{"role": "user", "content": "What is the capital of France?"}],
                  SamplingParams(max_new_tokens=16))
    assert "Paris" in answer
