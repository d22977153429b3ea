"""``Deployment``: the contents of ``deployments/<network>.json`` (addresses, chain id,
deployer, first block), validated on load and checked against a live chain.

Below ``deploy`` (which writes it) and ``wiring`` (which reads it), so neither imports the other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from eth_utils.address import is_address, to_checksum_address
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from web3 import Web3
from web3.contract import Contract

from node.chain.artifacts import load_artifact
from node.chain.profiles import DeploySetup
from node.core.errors import ChainError
from node.core.files import write_text_atomic
from node.core.paths import DEPLOYMENTS_DIR

NETWORK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # it becomes a file name


def _address(value: str) -> str:
    if not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(value)


def _network(value: str) -> str:
    if not NETWORK_NAME_RE.match(value):
        raise ValueError(f"network name {value!r} must match {NETWORK_NAME_RE.pattern}")
    return value


Address = Annotated[str, AfterValidator(_address)]
NetworkName = Annotated[str, AfterValidator(_network)]
TxHash = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$")]


class DeployedContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: Address
    block_number: int = Field(ge=0, description="block holding the creation transaction")
    tx_hash: TxHash


class Deployment(BaseModel):
    """The contents of ``deployments/<network>.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    network: NetworkName
    chain_id: int = Field(gt=0)
    deployer: Address
    block_number: int = Field(ge=0, description="first block of this deployment")
    deployed_at: AwareDatetime
    contracts: dict[str, DeployedContract] = Field(min_length=1)
    setup: DeploySetup | None = None  # profile, faucet, referees, genesis model, what is left

    @model_validator(mode="after")
    def _first_block(self) -> Deployment:
        first = min(c.block_number for c in self.contracts.values())
        if self.block_number != first:
            raise ValueError(f"block_number {self.block_number} is not the first block ({first})")
        return self

    @staticmethod
    def path_for(network: str, directory: Path = DEPLOYMENTS_DIR) -> Path:
        return directory / f"{network}.json"

    @classmethod
    def load(cls, network: str, directory: Path = DEPLOYMENTS_DIR) -> Deployment:
        path = cls.path_for(network, directory)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ChainError(
                f"no deployment for network {network!r} at {path}; "
                f"run `python scripts/deploy.py --network {network}`"
            ) from None
        try:
            deployment = cls.model_validate_json(text)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "file"
            raise ChainError(f"{path} is invalid: {where}: {first['msg']}") from None
        if deployment.network != network:
            raise ChainError(f"{path} is for network {deployment.network!r}, not {network!r}")
        return deployment

    def save(self, directory: Path = DEPLOYMENTS_DIR) -> Path:
        path = self.path_for(self.network, directory)
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n")
        return path

    def address(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise ChainError(
                f"{name} is not in the {self.network} deployment; redeploy with scripts/deploy.py"
            ) from None

    def contract(self, w3: Web3, name: str) -> Contract:
        """A web3 handle on deployed contract ``name`` (ABI from the build file)."""
        abi = load_artifact(name).abi
        return w3.eth.contract(address=to_checksum_address(self.address(name)), abi=abi)

    def check_against(self, w3: Web3) -> None:
        """``ChainError`` unless ``w3`` is this deployment's chain and every contract has code.

        Catches the usual local mistake: anvil restarted, the JSON still names old addresses.
        """
        chain_id = w3.eth.chain_id
        if chain_id != self.chain_id:
            raise ChainError(
                f"the {self.network} deployment is on chain id {self.chain_id}, "
                f"but the RPC has chain id {chain_id}"
            )
        for name, deployed in self.contracts.items():
            if not w3.eth.get_code(deployed.address):  # type: ignore[arg-type]
                raise ChainError(
                    f"no code for {name} at {deployed.address} on chain {chain_id} "
                    f"(chain restarted?); redeploy with scripts/deploy.py --network {self.network}"
                )
