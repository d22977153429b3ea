"""Merkle roots and proofs of (account, amount) leaves for Payments' epoch claims, built
exactly as OpenZeppelin's StandardMerkleTree (@openzeppelin/merkle-tree) builds them, so
``MerkleProof.verify`` in the Payments contract accepts our proofs and a JS tool given
the same leaves gets the same root.

Leaf of (account, amount): ``keccak256(bytes.concat(keccak256(abi.encode(account, amount))))``
(the double hash). Inner nodes hash the sorted pair, so a proof is just the sibling list.
Leaves are sorted by hash and the tree is a complete binary tree stored in an array: the
leaves fill its end in reverse order, node ``i`` has children ``2i+1`` and ``2i+2``.
"""

from __future__ import annotations

from collections.abc import Mapping

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from node.core.errors import ConfigError


def leaf(account: str, amount: int) -> bytes:
    return keccak(keccak(encode(["address", "uint256"], [to_checksum_address(account), amount])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a < b else b + a)


def verify(root: bytes, account: str, amount: int, proof: list[bytes]) -> bool:
    """OpenZeppelin ``MerkleProof.verify`` in Python: does ``proof`` lead from the leaf of
    (account, amount) to ``root``?"""
    node = leaf(account, amount)
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root


class RewardTree:
    """``RewardTree({account: amount})``: ``root``, ``total`` and ``proof(account)``.

    Every amount must be positive (a zero claim is pointless); ``allow_zero`` lifts that
    for a record that is never posted (an epoch whose shares all rounded down to 0).
    """

    def __init__(self, amounts: Mapping[str, int], *, allow_zero: bool = False) -> None:
        if not amounts:
            raise ConfigError("an epoch needs at least one (account, amount) leaf")
        self.amounts = {to_checksum_address(a): int(v) for a, v in amounts.items()}
        if any(v < 0 or (v == 0 and not allow_zero) for v in self.amounts.values()):
            raise ConfigError("every epoch reward must be a positive amount")
        self.total = sum(self.amounts.values())
        hashes = sorted(leaf(a, v) for a, v in self.amounts.items())
        n = len(hashes)
        self.tree: list[bytes] = [b""] * (2 * n - 1)
        for k, h in enumerate(hashes):
            self.tree[len(self.tree) - 1 - k] = h
        for i in range(len(self.tree) - 1 - n, -1, -1):
            self.tree[i] = _pair(self.tree[2 * i + 1], self.tree[2 * i + 2])
        self.root = self.tree[0]

    def proof(self, account: str) -> list[bytes]:
        account = to_checksum_address(account)
        if account not in self.amounts:
            raise ConfigError(f"{account} has no reward in this epoch")
        i = self.tree.index(leaf(account, self.amounts[account]), len(self.tree) // 2)  # the leaves
        proof = []
        while i > 0:
            proof.append(self.tree[i - 1 if i % 2 == 0 else i + 1])
            i = (i - 1) // 2
        return proof
