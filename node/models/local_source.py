"""Bring your own model: a local GGUF file or a transformers checkpoint directory,
checked before anything is converted so that a bad source fails in one clear line.

A checkpoint directory holds ``config.json``, tokenizer files and safetensors weights,
one file or shards listed by ``model.safetensors.index.json``. Each check names the
file at fault and what to do: an architecture with no family adapter, a missing
tokenizer, a missing or truncated shard, a GGUF cut short. Nothing here loads weights;
``convert.convert_local`` does, through transformers' own loaders.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from node.core.errors import ModelSourceError
from node.core.files import sha256_file
from node.core.names import MODEL_ID_MAX_LENGTH, validate_model_id
from node.models.errors import UnknownFamilyError, UnsupportedConfigError
from node.models.registry import get_family

CONFIG_FILE = "config.json"
SHARD_INDEX = "model.safetensors.index.json"
SINGLE_WEIGHTS = "model.safetensors"
# Any one of these is a usable tokenizer (fast JSON, SentencePiece, or BPE vocab+merges).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
# GGUF architecture names that differ from the transformers model_type.
GGUF_ARCH_TO_MODEL_TYPE = {"gemma3": "gemma3_text"}


@dataclass(frozen=True)
class LocalSource:
    kind: Literal["gguf", "hf-dir"]
    path: Path  # the GGUF file or the checkpoint directory
    model_id: str
    license: str
    family: str  # transformers model_type
    sha256: str  # of the GGUF, or of the sorted (name, sha256) list of the checkpoint's files

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.path.name}"


def slug(name: str) -> str:
    """A model id from a free-form name: 'SmolLM2-135M_Instruct.v2' → 'smollm2-135m-instruct-v2'."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:MODEL_ID_MAX_LENGTH].rstrip("-")


def _check_family(model_type: str, config: Any | None, where: Path) -> str:
    try:
        family = get_family(model_type)
        if config is not None:
            family.check_config(config)
    except (UnknownFamilyError, UnsupportedConfigError) as exc:
        raise ModelSourceError(f"{where}: unsupported architecture: {exc}") from None
    return model_type


def _id_and_license(model_id: str | None, license_: str | None, name: str | None,
                    found_license: str | None, where: Path) -> tuple[str, str]:
    chosen = model_id or slug(name or "")
    if not chosen:
        raise ModelSourceError(f"{where}: no model name found; pass --id (e.g. --id my-model-1b)")
    validate_model_id(chosen)
    license_ = license_ or found_license
    if not license_:
        raise ModelSourceError(
            f"{where}: no license found (README.md front matter or GGUF general.license); "
            "pass --license (e.g. --license apache-2.0)"
        )
    return chosen, license_


# --- transformers checkpoint directory -----------------------------------------------
def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file (None when it is): the header
    says where the last tensor ends, so a file cut short is caught without reading it."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path.name} is truncated ({size} bytes, no header)"
        (header_len,) = struct.unpack("<Q", head)
        if 8 + header_len > size:
            return f"{path.name} is truncated ({size} bytes, the header alone is {8 + header_len})"
        try:
            header = json.loads(f.read(header_len))
        except ValueError:
            return f"{path.name} is not a safetensors file (unreadable header)"
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    expected = 8 + header_len + max(ends, default=0)
    if size < expected:
        return f"{path.name} is truncated ({size} bytes, its header says {expected}); copy it again"
    return None


def _weight_files(directory: Path) -> list[Path]:
    index = directory / SHARD_INDEX
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError, AttributeError):
            raise ModelSourceError(f"{index} is not a valid shard index (no weight_map)") from None
        missing = [n for n in names if not (directory / n).is_file()]
        if missing:
            raise ModelSourceError(f"{directory}: shard {missing[0]} listed in {SHARD_INDEX} is missing")
        return [directory / n for n in names]
    if (directory / SINGLE_WEIGHTS).is_file():
        return [directory / SINGLE_WEIGHTS]
    if any(directory.glob("*.bin")):
        raise ModelSourceError(
            f"{directory}: only PyTorch .bin weights; save the model with safetensors "
            "(model.save_pretrained(dir, safe_serialization=True))"
        )
    raise ModelSourceError(f"{directory}: no {SINGLE_WEIGHTS} or {SHARD_INDEX}")


def _readme_license(directory: Path) -> str | None:
    readme = directory / "README.md"
    if not readme.is_file():
        return None
    front = re.match(r"^---\n(.*?)\n---", readme.read_text(errors="replace"), re.S)
    found = re.search(r"^license:\s*['\"]?([^'\"\n]+)", front.group(1), re.M) if front else None
    return found.group(1).strip() if found else None


def inspect_hf_dir(directory: Path, model_id: str | None = None, license_: str | None = None) -> LocalSource:
    """Check a transformers checkpoint directory; raise ModelSourceError saying what is wrong."""
    if not directory.is_dir():
        raise ModelSourceError(f"{directory} is not a directory")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ModelSourceError(f"{directory}: no {CONFIG_FILE} (not a transformers checkpoint)")
    try:
        raw = json.loads(config_path.read_text())
    except ValueError as exc:
        raise ModelSourceError(f"{config_path} is not valid JSON: {exc}") from None
    model_type = raw.get("model_type")
    if not isinstance(model_type, str):
        raise ModelSourceError(f"{config_path} has no model_type")
    _check_family(model_type, None, directory)  # names the known families before transformers runs
    from node.models.family import load_config

    _check_family(model_type, load_config(directory), directory)
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ModelSourceError(
            f"{directory}: no tokenizer ({' or '.join(TOKENIZER_FILES)}); "
            "save it beside the weights (tokenizer.save_pretrained(dir))"
        )
    weights = _weight_files(directory)
    for shard in weights:
        if problem := safetensors_problem(shard):
            raise ModelSourceError(f"{directory}: {problem}")
    name = raw.get("_name_or_path") or directory.name
    chosen, license_ = _id_and_license(model_id, license_, Path(str(name)).name, _readme_license(directory), directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    return LocalSource("hf-dir", directory, chosen, license_, model_type, digest.hexdigest())


# --- GGUF file -------------------------------------------------------------------------
def _gguf_field(reader: Any, name: str) -> Any:
    import gguf as gguf_lib

    field = reader.fields.get(name)
    if field is None:
        return None
    if field.types[0] == gguf_lib.GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")
    if field.types[0] == gguf_lib.GGUFValueType.ARRAY:
        return len(field.data)
    return field.parts[field.data[0]][0].item()


def inspect_gguf(path: Path, model_id: str | None = None, license_: str | None = None) -> LocalSource:
    """Check a GGUF file (readable, whole, a known family, with a tokenizer)."""
    import gguf as gguf_lib

    if not path.is_file():
        raise ModelSourceError(f"{path} is not a file")
    try:
        reader = gguf_lib.GGUFReader(path)
    except Exception as exc:  # the reader raises many kinds; all mean "unreadable"
        raise ModelSourceError(f"{path} is truncated or not a GGUF file ({type(exc).__name__}: {exc})") from None
    end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if path.stat().st_size < end:
        raise ModelSourceError(f"{path} is truncated ({path.stat().st_size} bytes, its tensors end at {end})")
    arch = _gguf_field(reader, "general.architecture")
    name = _gguf_field(reader, "general.name")
    model_type = GGUF_ARCH_TO_MODEL_TYPE.get(arch, arch)
    if arch == "llama" and name == "mistral":
        # llama.cpp writes Mistral as llama (the llama family runs it); transformers 5.17
        # reads it as Mistral only for this exact name and then has no tokenizer for it
        raise ModelSourceError(
            f"{path}: transformers cannot read a GGUF named exactly 'mistral'; rename it "
            "(gguf-set-metadata FILE general.name mistral-7b) or convert with --hf-dir"
        )
    _check_family(str(model_type), None, path)
    if not _gguf_field(reader, "tokenizer.ggml.tokens"):
        raise ModelSourceError(f"{path}: no tokenizer (tokenizer.ggml.tokens) in the GGUF")
    chosen, license_ = _id_and_license(
        model_id, license_, name or path.stem, _gguf_field(reader, "general.license"), path
    )
    return LocalSource("gguf", path, chosen, license_, str(model_type), sha256_file(path))
