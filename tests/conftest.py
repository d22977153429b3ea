"""Fixtures shared by the whole suite.

``smollm2_dir``: the real SmolLM2-135M-Instruct converted to fp32 per-block files. It
uses the normal model cache (HELIO_CACHE_DIR or ~/.cache/heliomesh), so it converts
once (≈ 25 s) and later sessions, and `make demo`, reuse it after verifying every
file against the manifest. Tests must treat it as read-only: tests that damage files
copy it first.

``make test`` runs the suite on two pytest-xdist workers (``--dist loadgroup``): every
test marked ``slow`` (real processes, swarms, timing) in one group, so they run one at a
time, as they would alone, on one worker, while the other worker takes the rest module
by module (a module's fixtures are built once).
"""

from __future__ import annotations

from pathlib import Path

import pytest

SMOLLM2 = "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    return _converted(SMOLLM2)


def _converted(model_id: str) -> Path:
    """The fp32 conversion of ``model_id`` in the normal cache; a file lock makes the
    second xdist worker wait for the first's conversion instead of converting it again."""
    from filelock import FileLock

    from node.core.settings import Settings
    from node.models.convert import convert_model

    cache_dir = Settings().cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f".convert-{model_id}.lock")):
        return convert_model(model_id, "fp32", cache_dir, progress=False).model_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """xdist groups (used by ``--dist loadgroup``; nothing without xdist): the slow tests
    together, every other module its own group."""
    for item in items:
        group = "slow" if item.get_closest_marker("slow") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def gemma3_dir() -> Path:
    """The real Gemma-3-270m (fp32), converted into the normal cache like ``smollm2_dir``
    (≈ 1-2 min the first time, then reused)."""
    return _converted("gemma3-270m")
