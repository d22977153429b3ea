"""Native CPU kernels, compiled on first use with the system C compiler and loaded with
``ctypes`` (plain C with intrinsics and no torch headers: a build takes a second, and no
wheel has to match the installed torch).

- ``int8_linear.c``: weight-only int8 linear for 1–16 rows on AVX2 / AVX-512
  (``int8_linear``; ``None`` where it cannot run: another CPU, no compiler).

The built library lives in ``<cache_dir>/kernels/`` under the hash of its source and of
the compiler flags, so an edit or another machine's copy never loads by mistake.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("int8_linear.c")
CFLAGS = ("-O3", "-shared", "-fPIC", "-fopenmp", "-std=c11")
BUILD_TIMEOUT_S = 120.0


class Int8Kernel:
    """``int8_linear.c`` loaded: ``linear(x, w, scale)`` for x (M, K) float32."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.level = int(library.helio_int8_level())
        self._fn = library.helio_int8_linear
        self._fn.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 3 + [ctypes.c_int] * 2
        self._fn.restype = None

    def linear(self, x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """(x · weightᵀ) × scale: x (M, K) float32 contiguous, weight (N, K) int8 contiguous,
        scale (N,) float32. ctypes drops the GIL for the call."""
        rows, inner = x.shape
        out = torch.empty(rows, weight.shape[0], dtype=torch.float32)
        self._fn(x.data_ptr(), weight.data_ptr(), scale.data_ptr(), out.data_ptr(),
                 rows, inner, weight.shape[0], self.level, torch.get_num_threads())
        return out

    def bind(self, weight: torch.Tensor, scale: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """``linear`` for one weight, resolved once for a caller that calls it every
        token: x (..., K) float32 with at most 16 rows → (..., N)."""
        fn, level, threads = self._fn, self.level, torch.get_num_threads
        w_ptr, s_ptr = weight.data_ptr(), scale.data_ptr()
        rows_out, inner = weight.shape

        def linear(x: torch.Tensor, _keep: tuple[torch.Tensor, ...] = (weight, scale)) -> torch.Tensor:
            # _keep: the weight and scale outlive every call through their pointers
            x = x.contiguous()
            out = torch.empty(*x.shape[:-1], rows_out, dtype=torch.float32)
            fn(x.data_ptr(), w_ptr, s_ptr, out.data_ptr(), x.numel() // inner, inner, rows_out,
               level, threads())
            return out

        return linear


@functools.cache
def int8_kernel() -> Int8Kernel | None:
    """The int8 kernel, built if needed; ``None`` (logged once) where it cannot run."""
    if platform.machine() not in ("x86_64", "AMD64") or os.environ.get("HELIO_NO_KERNELS"):
        return None
    try:
        kernel = Int8Kernel(ctypes.CDLL(str(_build())))
    except (OSError, subprocess.SubprocessError, KernelBuildError) as exc:
        log.warning("int8 CPU kernel unavailable (%s); int8 linears use torch (slower)", exc)
        return None
    if kernel.level == 0:
        log.warning("this CPU has neither AVX2 nor AVX-512; int8 linears use torch (slower)")
        return None
    return kernel


class KernelBuildError(RuntimeError):
    pass


def _build() -> Path:
    from node.core.settings import Settings

    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise KernelBuildError("no C compiler (gcc or $CC) on PATH")
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CFLAGS).encode()).hexdigest()[:16]
    target = Settings().cache_dir / "kernels" / f"int8_linear-{digest}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: processes starting together never load half a file.
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        proc = subprocess.run([compiler, *CFLAGS, "-o", str(built), str(SOURCE)],
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if proc.returncode != 0:
            raise KernelBuildError(f"{compiler} failed: {proc.stderr.strip()[-500:]}")
        os.replace(built, target)
    return target
