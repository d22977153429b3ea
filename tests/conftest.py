"""Fixtures shared by the whole suite.

``smollm2_dir``: the real SmolLM2-135M-Instruct converted to fp32 per-block files. It
uses the normal model cache (HELIO_CACHE_DIR or ~/.cache/heliomesh), so it converts
once (≈ 25 s) and later sessions, and `make demo`, reuse it after verifying every
file against the manifest. Tests must treat it as read-only: tests that damage files
copy it first.

``make test`` runs the suite on two pytest-xdist workers (``--dist loadgroup``): the
modules with a test marked ``slow`` (real processes, swarms, timing) in one group, so
they run one at a time, in order, on one worker, while the other worker takes the rest
module by module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SMOLLM2 = "smollm2-135m-instruct"

# An xdist worker inherits COLUMNS=80 / LINES=24 from execnet, and rich fixes a console's
# width from COLUMNS when the console is made (at import): CLI output in tests would then
# be cut at 80 columns where a plain run is not.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


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


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """xdist groups (used by ``--dist loadgroup``; nothing without xdist): every module
    with a slow test goes whole into one group (its module fixtures are built once and its
    tests keep their order), every other module is a group of its own."""
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow = {module(item) for item in items if item.get_closest_marker("slow")}
    for item in items:
        item.add_marker(pytest.mark.xdist_group("slow" if module(item) in slow else module(item)))


@pytest.fixture(scope="session")
def gemma3_dir() -> Path:
    """The real Gemma-3-270m (fp32), converted into the normal cache like ``smollm2_dir``
    (≈ 1-2 min the first time, then reused)."""
    return _converted("gemma3-270m")
