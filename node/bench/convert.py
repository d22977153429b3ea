"""Model conversion benchmark: cold conversion time and cache size per dtype, and the
time to reuse (verify) an intact cache. Converts into a fresh temporary cache so the
user's cache is never touched."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from node.bench.machine import machine_info
from node.models.convert import convert_model


def bench_convert(model_id: str, dtypes: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {"model": model_id, "machine": machine_info(), "dtypes": {}}
    with tempfile.TemporaryDirectory(prefix="helio-bench-") as tmp:
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
                "reuse_check_s": round(reuse_s, 3),
                "cache_mb": round(sum(f.size for f in result.manifest.files.values()) / 1e6, 1),
                "files": len(result.manifest.files),
            }
    return results
