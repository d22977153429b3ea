"""What the gateway reads from the chain, through node/chain's typed wrappers
(``HelioChain``), each part optional.

``ChainLink.connect`` opens the deployment in ``deployments/<network>.json``; every view
below falls back to an off-chain answer when its contract is not deployed, and says so
in ``describe()`` (shown by the dashboard):

- ``StakeOracle``   is an address an active staked inferer? (StakingRegistry.isActive)
- ``ModelCatalog``  is a model adopted? (ModelRegistry.isAdopted(keccak256(model id)))
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain.bindings import HelioChain, Models, Staking
from node.chain.connect import connect
from node.chain.deploy import Deployment

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

    def has(self, name: str) -> bool:
        return name in self.deployment.contracts

    def helio(self, account: LocalAccount | None = None) -> HelioChain:
        return HelioChain(self.w3, self.deployment, account)


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

    staking: Staking | None = None
    static: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        _Cached.__init__(self)

    def is_staked(self, address: str) -> bool:
        if self.staking is None:
            return address.lower() in {a.lower() for a in self.static}
        staking = self.staking
        return self._cached(address.lower(), lambda: staking.is_active(Web3.to_checksum_address(address)))

    def describe(self) -> str:
        return "StakingRegistry" if self.staking is not None else "off-chain list (no StakingRegistry)"


@dataclass
class ModelCatalog(_Cached):
    """Adoption by model id: the chain's ModelRegistry, else every served model."""

    models: Models | None = None

    def __post_init__(self) -> None:
        _Cached.__init__(self)

    def is_adopted(self, model_id: str) -> bool:
        if self.models is None:
            return True
        models = self.models
        return self._cached(model_id, lambda: models.is_adopted(model_id))

    def describe(self) -> str:
        return "ModelRegistry" if self.models is not None else "served models (no ModelRegistry)"
