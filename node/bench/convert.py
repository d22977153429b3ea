"""Model conversion benchmark: cold conversion time and cache size per dtype, and the
time to reuse (verify) an intact cache. Baseline, same run: transformers' GGUF load
alone (the floor any conversion pays). Converts into a fresh temporary cache so the
user's cache is never touched."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from node.bench.machine import machine_info
from node.models.convert import convert_model, load_gguf, normalize_dtype
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
    return results
