"""What the gateway reads from the chain, each part optional.

``ChainLink.connect`` opens the deployment in ``deployments/<network>.json``; every view
below falls back to an off-chain answer when its contract is not deployed yet, and says
so in ``describe()`` (shown by ``/health`` and the dashboard):

- ``StakeOracle``   is an address an active staked inferer? (StakingRegistry.isActive)
- ``ModelCatalog``  is a model adopted? (ModelRegistry.isAdopted(keccak256(model id)))
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from node.chain.connect import connect
from node.chain.deploy import Deployment
from node.chain.eip712 import model_key
from node.core.errors import ChainError

log = logging.getLogger(__name__)

CACHE_S = 30.0  # chain views are cached this long


@dataclass
class ChainLink:
    w3: Web3
    deployment: Deployment
    rpc_url: str

    @classmethod
    def connect(cls, rpc_url: str, network: str = "local") -> ChainLink:
        deployment = Deployment.load(network)
        w3 = connect(rpc_url, expected_chain_id=deployment.chain_id)
        deployment.check_against(w3)
        return cls(w3, deployment, rpc_url)

    def contract(self, name: str) -> Any | None:
        """A handle on ``name`` if it is deployed (and compiled), else None."""
        if name not in self.deployment.contracts:
            return None
        try:
            return self.deployment.contract(self.w3, name)
        except (ChainError, KeyError, FileNotFoundError) as exc:
            log.warning("%s is deployed but its ABI is missing (%s); run make compile", name, exc)
            return None


class _Cached:
    def __init__(self) -> None:
        self._cache: dict[Any, tuple[float, bool]] = {}

    def _cached(self, key: Any, compute: Any) -> bool:
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        value = bool(compute())
        self._cache[key] = (time.monotonic(), value)
        return value


@dataclass
class StakeOracle(_Cached):
    """Active stake by address: the chain's StakingRegistry, else a fixed set (tests)."""

    registry: Any | None = None
    static: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        _Cached.__init__(self)

    def is_staked(self, address: str) -> bool:
        if self.registry is None:
            return address.lower() in {a.lower() for a in self.static}
        return self._cached(address.lower(), lambda: self.registry.functions.isActive(
            Web3.to_checksum_address(address)).call())

    def describe(self) -> str:
        return "StakingRegistry" if self.registry is not None else "off-chain list (no StakingRegistry)"


@dataclass
class ModelCatalog(_Cached):
    """Adoption by model id: the chain's ModelRegistry, else every served model."""

    registry: Any | None = None

    def __post_init__(self) -> None:
        _Cached.__init__(self)

    def is_adopted(self, model_id: str) -> bool:
        if self.registry is None:
            return True
        return self._cached(model_id, lambda: self.registry.functions.isAdopted(model_key(model_id)).call())

    def describe(self) -> str:
        return "ModelRegistry" if self.registry is not None else "served models (no ModelRegistry)"
