"""The package a volunteer installs: `pip wheel .` builds a wheel that installs into a fresh
venv and gives a working `helio` (docs/operators.md). Offline: built with --no-deps
--no-build-isolation from a copy of the sources; the fresh venv reaches the project venv's
site-packages for the dependencies (a .pth line, which does not load the editable
install's hooks), so every `node` module it imports comes from the installed wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest

from node.chain.artifacts import ensure_compiled
from node.core.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow
SOURCES = ("pyproject.toml", "README.md", "node", "gateway", ".build/__local__.json")


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    for name in SOURCES:  # a copy: setuptools writes build/ and *.egg-info beside the sources
        target = src / name
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, target, ignore=shutil.ignore_patterns(
                "node_modules", "__pycache__", "*.egg-info", "src", "tests"))  # fmt: skip
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, target)
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)], check=True, timeout=300)  # fmt: skip
    (wheel,) = out.glob("heliomesh-*.whl")
    return wheel


def test_wheel_installs_into_a_fresh_venv_and_gives_helio(tmp_path: Path) -> None:
    ensure_compiled()
    wheel = _build_wheel(tmp_path)
    env_dir = tmp_path / "fresh"
    started = time.monotonic()
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())  # fmt: skip
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "-q", str(wheel)], check=True, timeout=300)  # fmt: skip
    run = dict(cwd=tmp_path, capture_output=True, text=True, timeout=120)
    helio = env_dir / "bin" / "helio"
    result = subprocess.run([helio, "join", "--help"], **run)  # type: ignore[call-overload]
    assert result.returncode == 0, result.stderr
    assert "--max-memory" in result.stdout and "--identity" in result.stdout
    print(f"fresh venv -> `helio join --help` answers: {time.monotonic() - started:.1f} s")
    # The installed package, not the checkout; its compiled contracts came with it.
    where = subprocess.run([python, "-c", (
        "import node, node.core.paths as p; from node.chain.artifacts import load_artifact; "
        "load_artifact('Faucet'); print(node.__file__); print(p.CONTRACTS_BUILD_FILE); "
        "print(p.IS_CHECKOUT)")], **run)  # type: ignore[call-overload]  # fmt: skip
    assert where.returncode == 0, where.stderr
    module, build_file, checkout = where.stdout.split()
    assert module.startswith(str(site)) and checkout == "False"
    assert build_file == str(env_dir / "share" / "heliomesh" / "build" / "__local__.json")
    gateway = subprocess.run([helio, "gateway", "--help"], **run)  # type: ignore[call-overload]
    assert gateway.returncode == 0, gateway.stderr  # the entry point of the gateway package
