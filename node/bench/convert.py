"""Model conversion benchmark: cold conversion time and cache size per dtype, and the
time to reuse (verify) an intact cache. Baseline, same run: transformers' GGUF load
alone (the floor any conversion pays). Converts into a fresh temporary cache so the
user's cache is never touched. Bring your own model (issue #15): the same model
converted from its GGUF file (``--gguf``) and from a transformers checkpoint directory
(``--hf-dir``, fp32 safetensors in 100 MB shards, written from the converted model)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from node.bench.machine import machine_info
from node.models.convert import convert_model, load_gguf, normalize_dtype
from node.models.convert_local import convert_local
from node.models.local_source import inspect_gguf, inspect_hf_dir
from node.models.sources import get_source


def gguf_load_seconds(model_id: str, dtype: str, cache_dir: Path) -> float:
    """Baseline: transformers' GGUF load alone (dequantize into memory, write nothing)."""
    spec = get_source(model_id)
    gguf = spec.locate(cache_dir)
    start = time.perf_counter()
    load_gguf(gguf, normalize_dtype(dtype))
    return time.perf_counter() - start


def bench_convert(model_id: str, dtypes: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {"model": model_id, "machine": machine_info(), "dtypes": {}}
    with tempfile.TemporaryDirectory(prefix="helio-bench-") as tmp:
        baseline = gguf_load_seconds(model_id, dtypes[0], Path(tmp))
        results["baseline_gguf_load_s"] = round(baseline, 2)
        for dtype in dtypes:
            start = time.perf_counter()
            result = convert_model(model_id, dtype, Path(tmp), progress=False)
            convert_s = time.perf_counter() - start
            start = time.perf_counter()
            again = convert_model(model_id, dtype, Path(tmp), progress=False)
            reuse_s = time.perf_counter() - start
            assert again.reused, "an intact cache must be reused"
            results["dtypes"][result.manifest.dtype] = {
                "convert_s": round(convert_s, 2),
                "ratio_to_gguf_load": round(convert_s / baseline, 2),
                "reuse_check_s": round(reuse_s, 3),
                "cache_mb": round(sum(f.size for f in result.manifest.files.values()) / 1e6, 1),
                "files": len(result.manifest.files),
            }
        results["bring_your_own"] = bench_bring_your_own(model_id, dtypes[0], Path(tmp))
    return results


def _export_hf_dir(model_dir: Path, out: Path, license_: str) -> Path:
    """The converted model as a model creator's checkpoint: sharded safetensors + tokenizer."""
    from transformers import AutoTokenizer

    from node.models.reference import load_full_model

    load_full_model(model_dir).save_pretrained(out, max_shard_size="100MB")
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    (out / "README.md").write_text(f"---\nlicense: {license_}\n---\n")
    return out


def bench_bring_your_own(model_id: str, dtype: str = "fp32", builtin_cache: Path | None = None) -> dict[str, Any]:
    """Seconds to convert ``model_id`` from its GGUF vs from an --hf-dir checkpoint
    (``builtin_cache``: where the built-in conversion already is, to reuse it)."""
    spec = get_source(model_id)
    with tempfile.TemporaryDirectory(prefix="helio-bench-byo-") as tmp:
        root = Path(tmp)
        cache = builtin_cache or root / "builtin"
        converted = convert_model(model_id, dtype, cache, progress=False)
        gguf = spec.locate(cache)
        start = time.perf_counter()
        from_gguf = convert_local(inspect_gguf(gguf, f"{model_id}-gguf", spec.license), dtype, root / "a", progress=False)
        gguf_s = time.perf_counter() - start
        hf_dir = _export_hf_dir(converted.model_dir, root / "hf", spec.license)
        start = time.perf_counter()
        from_hf = convert_local(inspect_hf_dir(hf_dir, f"{model_id}-hf"), dtype, root / "b", progress=False)
        hf_s = time.perf_counter() - start
        same = all(
            from_hf.manifest.files[n].sha256 == e.sha256
            for n, e in from_gguf.manifest.files.items() if n.endswith(".safetensors")
        )
        return {
            "model": model_id, "dtype": normalize_dtype(dtype),
            "gguf_mb": round(gguf.stat().st_size / 1e6, 1),
            "hf_dir_mb": round(sum(p.stat().st_size for p in hf_dir.iterdir()) / 1e6, 1),
            "from_gguf_s": round(gguf_s, 2), "from_hf_dir_s": round(hf_s, 2),
            "same_weight_files": same,
        }
