"""Compiled contracts (abi + bytecode) from ape's build file, and compiling them."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from node.core.errors import ChainError, ToolchainError
from node.core.paths import (
    APE_DATA_DIR,
    CONTRACTS_BUILD_FILE,
    NODE_MODULES_BIN,
    PROJECT_ROOT,
    SOLCX_DIR,
    VENV_DIR,
)

CONTRACTS_DIR = PROJECT_ROOT / "contracts"
_COMPILE_TIMEOUT_S = 300  # a cold solcjs compile of every contract; seconds


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed deployment (creation) bytecode

    @cached_property
    def _errors(self) -> dict[bytes, dict[str, Any]]:
        by_selector = {}
        for item in self.abi:
            if item["type"] == "error":
                types = ",".join(_abi_type(i) for i in item["inputs"])
                selector = function_signature_to_4byte_selector(f"{item['name']}({types})")
                by_selector[selector] = item
        return by_selector

    def decode_error(self, revert_data: str | bytes) -> tuple[str, tuple[Any, ...]]:
        """Name and arguments of a custom-error revert, e.g. ``("ERC2612InvalidSigner", (a, b))``."""
        data = (
            bytes.fromhex(revert_data.removeprefix("0x"))
            if isinstance(revert_data, str)
            else revert_data
        )
        item = self._errors.get(data[:4])
        if item is None:
            raise ChainError(f"revert data 0x{data[:4].hex()} is no custom error of {self.name}")
        types = [_abi_type(i) for i in item["inputs"]]
        args = decode(types, data[4:])
        # eth_abi yields lowercase addresses; web3 everywhere else gives checksummed ones.
        return item["name"], tuple(_checksum(t, a) for t, a in zip(types, args, strict=True))


def _checksum(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "address[]":
        return [to_checksum_address(v) for v in value]
    return value


def _abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type of one parameter (tuples spelled out, as selectors need)."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def load_artifact(name: str, build_file: Path = CONTRACTS_BUILD_FILE) -> ContractArtifact:
    """The compiled contract ``name``; ``ChainError`` if it was never compiled."""
    try:
        types = json.loads(build_file.read_text())["contractTypes"]
    except FileNotFoundError:
        raise ChainError(f"no compiled contracts at {build_file}; run `make compile`") from None
    except (ValueError, KeyError) as e:
        raise ChainError(f"{build_file} is unreadable ({e}); run `make compile`") from None
    if name not in types:
        known = ", ".join(sorted(types)) or "none"
        raise ChainError(
            f"contract {name} is not in {build_file} (compiled: {known}); run `make compile`"
        )
    entry = types[name]
    bytecode = (entry.get("deploymentBytecode") or {}).get("bytecode") or ""
    if len(bytecode) <= 2:  # "0x" alone: an interface or abstract contract
        raise ChainError(f"{name} has no deployment bytecode (an interface?); nothing to deploy")
    return ContractArtifact(name=name, abi=entry["abi"], bytecode=bytecode)


def build_is_stale(build_file: Path = CONTRACTS_BUILD_FILE) -> bool:
    """True when the build file is missing or older than a source (same rule as the Makefile)."""
    if not build_file.is_file():
        return True
    built = build_file.stat().st_mtime
    sources = [*CONTRACTS_DIR.rglob("*.sol"), PROJECT_ROOT / "ape-config.yaml"]
    return any(src.stat().st_mtime > built for src in sources if src.is_file())


def compile_contracts() -> None:
    """Run ``ape compile`` exactly as ``make compile`` does (offline solcjs wrapper)."""
    ape = VENV_DIR / "bin" / "ape"
    if not ape.is_file():
        raise ToolchainError(f"ape not found at {ape}; run `make setup`")
    if not (SOLCX_DIR / "solc-v0.8.37").exists():
        raise ToolchainError(f"solc wrapper missing in {SOLCX_DIR}; run `make setup`")
    env = {
        **os.environ,
        "SOLCX_BINARY_PATH": str(SOLCX_DIR),
        "APE_DATA_FOLDER": str(APE_DATA_DIR),
        "PATH": f"{NODE_MODULES_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        result = subprocess.run(
            [str(ape), "compile"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"`ape compile` took over {_COMPILE_TIMEOUT_S} s") from None
    if result.returncode != 0:
        tail = " ".join((result.stderr or result.stdout).strip()[-800:].split())
        raise ToolchainError(f"`ape compile` failed: {tail}")


def ensure_compiled() -> None:
    """Compile when the build is missing or stale, so a fresh checkout just works."""
    if build_is_stale():
        compile_contracts()
        if not CONTRACTS_BUILD_FILE.is_file():
            raise ToolchainError(
                f"`ape compile` wrote no {CONTRACTS_BUILD_FILE}; run `make compile`"
            )
        # ape skips unchanged sources without rewriting the file; touch it so the next
        # call does not see it as stale again.
        CONTRACTS_BUILD_FILE.touch()
