"""Fixtures shared by the whole suite.

``smollm2_dir``: the real SmolLM2-135M-Instruct converted to fp32 per-block files. It
uses the normal model cache (HELIO_CACHE_DIR or ~/.cache/heliomesh), so it converts
once (≈ 25 s) and later sessions, and `make demo`, reuse it after verifying every
file against the manifest. Tests must treat it as read-only: tests that damage files
copy it first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SMOLLM2 = "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    from node.core.settings import Settings
    from node.models.convert import convert_model

    return convert_model(SMOLLM2, "fp32", Settings().cache_dir, progress=False).model_dir


@pytest.fixture(scope="session")
def gemma3_dir() -> Path:
    """The real Gemma-3-270m (fp32), converted into the normal cache like ``smollm2_dir``
    (≈ 1-2 min the first time, then reused)."""
    from node.core.settings import Settings
    from node.models.convert import convert_model

    return convert_model("gemma3-270m", "fp32", Settings().cache_dir, progress=False).model_dir
