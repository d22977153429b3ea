"""The repository's own tooling works the way people type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from node.core.paths import PROJECT_ROOT


def test_pytest_script_imports_the_package_not_the_tests_folder() -> None:
    # `.venv/bin/pytest tests/node/…` (unlike `python -m pytest`) does not put the working
    # directory on sys.path; without `pythonpath` in the pytest config the folder tests/node
    # became a namespace package `node` and collection stopped at ModuleNotFoundError.
    pytest_script = Path(sys.executable).parent / "pytest"
    done = subprocess.run(
        [str(pytest_script), "-q", "-p", "no:cacheprovider", "tests/node/core/test_cid.py", "-k", "params_are_kubo_defaults"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "passed" in done.stdout
