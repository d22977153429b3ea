"""Merkle roots and proofs for Payments' epoch claims, as OpenZeppelin's MerkleProof checks them.

Leaf of (account, amount): ``keccak256(bytes.concat(keccak256(abi.encode(account, amount))))``
(OpenZeppelin StandardMerkleTree's double hash). Inner nodes hash the sorted pair, so a
proof is just the sibling list. An odd node at the end of a level moves up unchanged.
"""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from node.core.errors import ConfigError


def leaf(account: str, amount: int) -> bytes:
    return keccak(keccak(encode(["address", "uint256"], [to_checksum_address(account), amount])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a < b else b + a)


class RewardTree:
    """``RewardTree({account: amount})``: ``root``, ``total`` and ``proof(account)``."""

    def __init__(self, amounts: dict[str, int]) -> None:
        if not amounts:
            raise ConfigError("an epoch needs at least one (account, amount) leaf")
        self.amounts = {to_checksum_address(a): int(v) for a, v in amounts.items()}
        if any(v <= 0 for v in self.amounts.values()):
            raise ConfigError("every epoch reward must be a positive amount")
        self.total = sum(self.amounts.values())
        level = sorted(leaf(a, v) for a, v in self.amounts.items())
        self._levels = [level]
        while len(level) > 1:
            level = [
                _pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                for i in range(0, len(level), 2)
            ]
            self._levels.append(level)
        self.root = level[0]

    def proof(self, account: str) -> list[bytes]:
        account = to_checksum_address(account)
        if account not in self.amounts:
            raise ConfigError(f"{account} has no reward in this epoch")
        index = self._levels[0].index(leaf(account, self.amounts[account]))
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof
