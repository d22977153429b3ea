"""The gateway's link to the chain, through node/chain's typed wrappers (``HelioChain``),
each part optional.

``ChainLink.connect`` opens the deployment in ``deployments/<network>.json``. The views
fall back to an off-chain answer when their contract is not deployed, and say so in
``describe()`` (shown by the dashboard):

- ``ModelCatalog``  is a model adopted? (ModelRegistry.isAdopted(keccak256(model id)))

Stake (is an address an active staked inferer?) is the referee's ``StakeCache`` over
StakingRegistry (``node/referee/stake.py``), else a fixed ``StaticStakes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain.bindings import HelioChain, Models
from node.chain.connect import connect
from node.chain.deployment import Deployment
from node.referee.ttl import TtlMemo

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


@dataclass
class ModelCatalog:
    """Adoption by model id: the chain's ModelRegistry, else every served model."""

    models: Models | None = None
    _answers: TtlMemo[str, bool] = field(default_factory=lambda: TtlMemo(CACHE_S), init=False, repr=False)

    def is_adopted(self, model_id: str) -> bool:
        if self.models is None:
            return True
        models = self.models
        return self._answers.get(model_id, lambda: bool(models.is_adopted(model_id)))

    def describe(self) -> str:
        return "ModelRegistry" if self.models is not None else "served models (no ModelRegistry)"
