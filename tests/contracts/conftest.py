"""One anvil and one deployment per session; every test runs inside an EVM snapshot.

Deploying once and reverting after each test keeps the suite fast (anvil reverts in
milliseconds) while no test sees another's transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract

from node.chain.anvil import Anvil
from node.chain.artifacts import ContractArtifact, ensure_compiled, load_artifact
from node.chain.connect import connect
from node.chain.deploy import deploy_all
from node.chain.deployment import Deployment
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS


@pytest.fixture(scope="session")
def compiled() -> None:
    """Compile (``ape compile``) if ``.build`` is missing or older than the sources."""
    ensure_compiled()


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil() as chain:
        yield chain


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Web3:
    return connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)


@pytest.fixture(scope="session")
def deployment(compiled: None, w3: Web3, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    # A temp directory, never the real deployments/: tests must not touch user files.
    directory: Path = tmp_path_factory.mktemp("deployments")
    return deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=directory)


@pytest.fixture(autouse=True)
def isolated_chain(w3: Web3, deployment: Deployment) -> Iterator[None]:
    """Snapshot before the test, revert after it: each test starts from the deployment."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    assert reverted.get("result") is True, f"evm_revert failed: {reverted}"


@pytest.fixture
def token_artifact(compiled: None) -> ContractArtifact:
    return load_artifact("HelioToken")


@pytest.fixture
def token(w3: Web3, deployment: Deployment) -> Contract:
    return deployment.contract(w3, "HelioToken")


@pytest.fixture
def contracts(w3: Web3, deployment: Deployment) -> dict[str, Contract]:
    """Every deployed contract by name (web3 handles)."""
    return {name: deployment.contract(w3, name) for name in deployment.contracts}
