"""Merkle roots of (account, amount) leaves exactly as OpenZeppelin's StandardMerkleTree
builds them, so ``MerkleProof.verify`` in the Payments contract accepts our proofs.

leaf = keccak256(bytes.concat(keccak256(abi.encode(address, uint256)))); inner nodes hash
the sorted pair; leaves sorted by hash, the tree stored as a complete binary tree in an
array (node i has children 2i+1, 2i+2), exactly as @openzeppelin/merkle-tree does.
"""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.crypto import keccak


def leaf_hash(account: str, amount: int) -> bytes:
    return keccak(keccak(encode(["address", "uint256"], [account, amount])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    def __init__(self, leaves: list[tuple[str, int]]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        self.values = list(leaves)
        hashed = sorted(((leaf_hash(a, n), i) for i, (a, n) in enumerate(leaves)))
        n = len(hashed)
        self.tree: list[bytes] = [b""] * (2 * n - 1)
        self._position: dict[int, int] = {}
        for k, (h, value_index) in enumerate(hashed):
            self.tree[len(self.tree) - 1 - k] = h
            self._position[value_index] = len(self.tree) - 1 - k
        for i in range(len(self.tree) - 1 - n, -1, -1):
            self.tree[i] = _pair(self.tree[2 * i + 1], self.tree[2 * i + 2])

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def proof(self, index: int) -> list[bytes]:
        """The proof for ``leaves[index]``."""
        i = self._position[index]
        path = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            path.append(self.tree[sibling])
            i = (i - 1) // 2
        return path


def verify(root: bytes, account: str, amount: int, proof: list[bytes]) -> bool:
    """OpenZeppelin ``MerkleProof.verify`` in Python."""
    node = leaf_hash(account, amount)
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root
