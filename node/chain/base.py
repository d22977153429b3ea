"""A typed handle on one deployed contract: reads, and writes whose reverts come back as
``ChainError("StakingBelowMinimum(...)")`` instead of raw revert bytes."""

from __future__ import annotations

from typing import Any, Self

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from node.chain.connect import Transactable, transact
from node.chain.reverts import decode_revert, describe_revert
from node.core.errors import ChainError
from node.crypto.eip712 import Domain


class ContractRevert(ChainError):
    """A transaction reverted with a custom error; ``name``/``args`` say which."""

    def __init__(self, contract: str, what: str, name: str, args: tuple[Any, ...]) -> None:
        super().__init__(describe_revert(f"{contract}.{what}", name, args))
        self.name = name
        self.args_ = args


class ContractClient:
    """Base of the per-contract wrappers: ``self.c`` is the web3 contract."""

    NAME: str = ""

    def __init__(self, w3: Web3, contract: Contract, account: LocalAccount | None = None) -> None:
        self.w3 = w3
        self.c = contract
        self.account = account

    @property
    def address(self) -> str:
        return str(self.c.address)

    def with_account(self, account: LocalAccount) -> Self:
        return type(self)(self.w3, self.c, account)

    def domain(self) -> Domain:
        """The contract's EIP-712 domain (ERC-5267)."""
        return Domain.of(self.c)

    def _tx(self, what: str, call: Transactable) -> TxReceipt:
        if self.account is None:
            raise ChainError(f"{self.NAME}.{what} needs a signing account (HELIO_PRIVATE_KEY)")
        try:
            return transact(self.w3, self.account, call)
        except ContractCustomError as e:
            name, args = self._decode(str(e.data))
            raise ContractRevert(self.NAME, what, name, args) from None
        except ContractLogicError as e:
            raise ChainError(f"{self.NAME}.{what} reverted: {e.message}") from None

    def _decode(self, data: str) -> tuple[str, tuple[Any, ...]]:
        # Errors of contracts this one calls (e.g. the token's) bubble up unchanged.
        return decode_revert(data, self.NAME)

    def events(self, receipt: TxReceipt, event: str) -> list[dict[str, Any]]:
        from web3.logs import DISCARD

        handler = getattr(self.c.events, event)()
        return [dict(e.args) for e in handler.process_receipt(receipt, errors=DISCARD)]
