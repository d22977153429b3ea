"""Manifest validation and verification (no model needed: small synthetic files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.core.cid import CID_PARAMS, cid_of_file
from node.core.errors import ModelCacheError
from node.core.files import sha256_file
from node.core.manifest import FileEntry, Manifest, ModelSource, block_file


def _manifest(directory: Path, **overrides: object) -> Manifest:
    files = {}
    for name in [block_file(0), block_file(1), "config.json"]:
        path = directory / name
        path.write_bytes(name.encode() * 100)
        files[name] = FileEntry(sha256=sha256_file(path), size=path.stat().st_size, cid=cid_of_file(path))
    fields: dict[str, object] = dict(
        model_id="tiny-model", converter_version=1, family="llama", dtype="float32", num_blocks=2, hidden_size=8,
        tie_word_embeddings=True,
        source=ModelSource(package="x==1", file="x.gguf", sha256="0" * 64, license="MIT"),
        cid_params=dict(CID_PARAMS), files=files,
    )
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_manifest_round_trip_and_verify(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    manifest.save(tmp_path)
    loaded = Manifest.load(tmp_path)
    assert loaded == manifest
    loaded.verify(tmp_path)
    assert loaded.block_files(1, 2) == ["block_001.safetensors"]
    assert loaded.client_files() == ["config.json"]


def test_manifest_verify_names_corrupt_truncated_and_missing_files(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    data = bytearray((tmp_path / block_file(0)).read_bytes())
    data[10] ^= 0xFF
    (tmp_path / block_file(0)).write_bytes(bytes(data))
    (tmp_path / block_file(1)).write_bytes(b"short")
    (tmp_path / "config.json").unlink()
    problems = manifest.problems(tmp_path)
    assert problems == [
        "block_000.safetensors is corrupt (sha256 mismatch)",
        "block_001.safetensors is truncated or corrupt (5 bytes, expected 2100)",
        "config.json is missing",
    ]
    with pytest.raises(ModelCacheError, match="helio model convert tiny-model"):
        manifest.verify(tmp_path)
    manifest.verify(tmp_path, [])  # checking no files finds nothing


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", ""])
def test_manifest_rejects_file_names_that_escape_the_model_dir(tmp_path: Path, name: str) -> None:
    entry = FileEntry(sha256="0" * 64, size=1, cid="Qm" + "1" * 44)
    with pytest.raises(ValueError, match="unsafe file name"):
        _manifest(tmp_path, files={name: entry})


def test_manifest_rejects_bad_model_id_and_span(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid model id"):
        _manifest(tmp_path, model_id="SmolLM2.135M")
    manifest = _manifest(tmp_path)
    for start, end in [(0, 3), (1, 1), (-1, 1)]:
        with pytest.raises(ValueError, match="outside"):
            manifest.block_files(start, end)


def test_manifest_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelCacheError, match="convert the model first"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelCacheError, match="invalid manifest"):
        Manifest.load(tmp_path)
