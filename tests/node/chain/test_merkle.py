"""The reward tree is OpenZeppelin's StandardMerkleTree: roots pinned to the ones its
algorithm gives (so @openzeppelin/merkle-tree in JS agrees), proofs verify for every leaf
with odd and even leaf counts, and a wrong amount or account is rejected."""

from __future__ import annotations

import pytest

from node.chain.merkle import RewardTree, verify
from node.core.errors import ConfigError


def _amounts(n: int) -> dict[str, int]:
    return {f"0x{i + 1:040x}": (i + 1) * 10**15 for i in range(n)}


# Roots of _amounts(n) by the StandardMerkleTree algorithm (leaves sorted by hash, a
# complete binary tree in an array): an odd count does NOT move a node up unchanged.
OZ_ROOTS = {
    1: "7c5a72d8965d4736c6850b8e6360de87dd92011b9a9fa1e5f6ba5434cd063eea",
    2: "6c07c1799a30b97ab629d2e36250c9da66742a0da2283cb3f5703e14de6724d9",
    3: "475313e6f4976f8f8532c820333d5c8a227bc699b705e475b9bbef2f665af10b",
    5: "5706f04b04ba5d960b94180db02a13d5f87956e41bf77e4e98920d0a9f5eb0e5",
    8: "cd6934e9cae670465963119cc4c3ed582a39373a170286bd95c5440d404673cb",
}


@pytest.mark.parametrize("n", sorted(OZ_ROOTS))
def test_root_is_the_openzeppelin_standard_tree_root(n: int) -> None:
    assert RewardTree(_amounts(n)).root.hex() == OZ_ROOTS[n]


def test_openzeppelin_readme_example_root() -> None:
    # @openzeppelin/merkle-tree's README: StandardMerkleTree.of(values, ["address", "uint256"])
    tree = RewardTree({"0x1111111111111111111111111111111111111111": 5000000000000000000,
                       "0x2222222222222222222222222222222222222222": 2500000000000000000})
    assert "0x" + tree.root.hex() == "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
    assert tree.total == 7500000000000000000


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 13])
def test_proofs_verify_for_every_leaf_and_reject_a_wrong_amount(n: int) -> None:
    amounts = _amounts(n)
    tree = RewardTree(amounts)
    for account, amount in amounts.items():
        proof = tree.proof(account.upper().replace("0X", "0x"))  # any address spelling
        assert verify(tree.root, account, amount, proof)
        assert not verify(tree.root, account, amount + 1, proof)
        assert not verify(tree.root, f"0x{999:040x}", amount, proof)


def test_refuses_empty_zero_and_unknown() -> None:
    with pytest.raises(ConfigError):
        RewardTree({})
    with pytest.raises(ConfigError):
        RewardTree({f"0x{1:040x}": 0})
    zero = RewardTree({f"0x{1:040x}": 0}, allow_zero=True)  # an epoch never posted
    assert zero.total == 0 and verify(zero.root, f"0x{1:040x}", 0, zero.proof(f"0x{1:040x}"))
    with pytest.raises(ConfigError, match="no reward"):
        RewardTree(_amounts(3)).proof(f"0x{999:040x}")
