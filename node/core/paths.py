"""Where things live. The project root is the checkout that holds ``node/``."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = PROJECT_ROOT / ".venv"
NODE_MODULES_BIN = PROJECT_ROOT / "node_modules" / ".bin"
# `ape compile` writes every compiled contract type into this one file.
CONTRACTS_BUILD_FILE = PROJECT_ROOT / ".build" / "__local__.json"
DEPLOYMENTS_DIR = PROJECT_ROOT / "deployments"
# py-solc-x / ape-solidity look for `solc-v<version>` here (SOLCX_BINARY_PATH).
SOLCX_DIR = VENV_DIR / "solcx"
APE_DATA_DIR = VENV_DIR / "ape"

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "heliomesh"
