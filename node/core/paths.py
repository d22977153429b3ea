"""Where things live. The project root is the checkout that holds ``node/``."""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# An installed wheel (pip/pipx) has no checkout: it carries the compiled contracts under
# <prefix>/share/heliomesh (pyproject data-files) and keeps deployments in the user's config.
IS_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file()
VENV_DIR = PROJECT_ROOT / ".venv"
NODE_MODULES_BIN = PROJECT_ROOT / "node_modules" / ".bin"
# `ape compile` writes every compiled contract type into this one file.
CONTRACTS_BUILD_FILE = (
    PROJECT_ROOT / ".build" if IS_CHECKOUT else Path(sys.prefix) / "share" / "heliomesh" / "build"
) / "__local__.json"
DEPLOYMENTS_DIR = (
    PROJECT_ROOT / "deployments" if IS_CHECKOUT else Path.home() / ".config" / "heliomesh" / "deployments"
)
# py-solc-x / ape-solidity look for `solc-v<version>` here (SOLCX_BINARY_PATH).
SOLCX_DIR = VENV_DIR / "solcx"
APE_DATA_DIR = VENV_DIR / "ape"

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "heliomesh"
