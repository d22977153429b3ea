"""``helio model convert --gguf PATH | --hf-dir PATH``: a model creator's own weights
into the same per-block layout and manifest as the built-in models.

The source is checked first (``local_source``), then loaded by transformers (its GGUF
loader or ``from_pretrained``), written into a temporary directory and swapped into
``<cache>/models/<model_id>/<dtype>/``. The manifest's ``source`` records the kind
(``gguf`` / ``hf-dir``), the file or directory name, a sha256 of the input and the license.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from node.core.errors import ModelSourceError
from node.core.manifest import Manifest, ModelSource
from node.models.convert import (
    ConvertResult,
    cached_manifest,
    load_gguf,
    normalize_dtype,
    swap_in,
    write_converted,
)
from node.models.gguf_tokenizer import repair_tokenizer
from node.models.local_source import LocalSource

log = logging.getLogger(__name__)


def _load_hf_dir(directory: Path, dtype: str) -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            directory, dtype=getattr(torch, dtype), local_files_only=True
        )
    except Exception as exc:  # transformers raises many kinds; all mean "cannot load"
        raise ModelSourceError(f"cannot load checkpoint {directory}: {type(exc).__name__}: {exc}") from exc
    return tokenizer, model.eval()  # type: ignore[no-untyped-call]


def _load(source: LocalSource, dtype: str) -> tuple[Any, Any]:
    if source.kind == "hf-dir":
        return _load_hf_dir(source.path, dtype)
    tokenizer, model = load_gguf(source.path, dtype)  # type: ignore[arg-type]
    repair_tokenizer(tokenizer, source.path)
    return tokenizer, model


def _reusable(manifest: Manifest | None, problems: list[str], record: ModelSource, force: bool) -> bool:
    if manifest is None or force:
        return False
    if manifest.source != record:
        raise ModelSourceError(
            f"another model is already converted as {manifest.model_id!r} (from "
            f"{manifest.source.package}:{manifest.source.file}); choose another --id or pass --force"
        )
    return not problems


def convert_local(
    source: LocalSource, dtype: str = "fp32", cache_dir: Path | None = None, *,
    progress: bool = True, force: bool = False,
) -> ConvertResult:
    """Convert a checked local source into the cache, or reuse an intact earlier conversion."""
    from node.core.settings import Settings

    cache_dir = cache_dir or Settings().cache_dir
    record = ModelSource(package=source.kind, file=source.path.name, sha256=source.sha256, license=source.license)
    directory, manifest, problems = cached_manifest(cache_dir, source.model_id, dtype)
    if _reusable(manifest, problems, record, force):
        assert manifest is not None
        return ConvertResult(directory, manifest, reused=True)
    tokenizer, model = _load(source, normalize_dtype(dtype))
    if model.config.model_type != source.family:
        raise ModelSourceError(
            f"{source.path}: transformers read a {model.config.model_type!r} model, expected {source.family!r}"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        manifest = write_converted(source.model_id, record, tokenizer, model, normalize_dtype(dtype), tmp, progress)
        swap_in(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted %s from %s into %s", source.model_id, source.label, directory)
    return ConvertResult(directory, manifest, reused=False)
