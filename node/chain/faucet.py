"""``Faucet``: the testnet faucet contract (contracts/Faucet.sol) as a typed wrapper.

    faucet = Faucet.of(chain)            # chain: a HelioChain; ChainError if not deployed
    faucet.drip(account.address)         # one drip, decoded reverts (FaucetCooldown(...))

Every deploy profile deploys it (scripts/deploy.py funds it from the deployer's supply), so
it is the one documented way for an operator to get HELIO for a stake.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.types import TxReceipt

from node.chain.artifacts import load_artifact
from node.chain.base import ContractClient
from node.chain.bindings import HelioChain


@dataclass(frozen=True)
class FaucetTerms:
    drip: int  # token wei per drip
    cooldown_s: int  # between two drips to one address
    window_cap: int  # drips per window, all addresses together
    window_s: int
    balance: int  # what it still holds, token wei


class Faucet(ContractClient):
    NAME = "Faucet"

    @classmethod
    def of(cls, chain: HelioChain) -> Faucet:
        """The deployment's faucet, signing with the chain's account."""
        return cls(chain.w3, chain.deployment.contract(chain.w3, cls.NAME), chain.account)

    def drip(self, to: str) -> TxReceipt:
        return self._tx("drip", self.c.functions.drip(to))

    def ready_at(self, to: str) -> int:
        """Unix time from which ``to`` may draw again (0: now)."""
        return int(self.c.functions.readyAt(to).call())

    def terms(self) -> FaucetTerms:
        token = self.w3.eth.contract(address=self.c.functions.token().call(),
                                     abi=load_artifact("HelioToken").abi)  # fmt: skip
        cap, window = self.c.functions.rateLimit().call()
        return FaucetTerms(
            drip=int(self.c.functions.dripAmount().call()),
            cooldown_s=int(self.c.functions.cooldown().call()),
            window_cap=int(cap),
            window_s=int(window),
            balance=int(token.functions.balanceOf(self.address).call()),
        )

