"""Step evidence: the fast commitment digest and signature equal the EIP-712 mirror's."""

from __future__ import annotations

from eth_keys import keys

from node.chain.devkeys import DEV_ACCOUNTS
from node.crypto.eip712 import OutputCommitment
from node.swarm.evidence import (
    NO_FINGERPRINT,
    CommitmentSigner,
    InputChain,
    chain_input,
    default_domain,
    fingerprint_hash,
    input_seed,
)

SESSION = bytes(range(32))
INPUT, OUTPUT = b"\x11" * 32, b"\x22" * 32


def test_fast_digest_and_signature_equal_the_eip712_struct() -> None:
    domain = default_domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    signer = CommitmentSigner(domain)
    print_hash = fingerprint_hash(b"\x01\x04\x01\x00" + bytes(18))
    commitment = OutputCommitment(SESSION, 7, INPUT, OUTPUT, print_hash)
    digest = signer.digest(SESSION, 7, INPUT, OUTPUT, print_hash)
    assert digest == commitment.digest(domain)
    # the fingerprint is signed: another one gives another digest
    assert signer.digest(SESSION, 7, INPUT, OUTPUT, NO_FINGERPRINT) != digest
    account = DEV_ACCOUNTS[1]
    signature = signer.sign(keys.PrivateKey(bytes.fromhex(account.private_key[2:])), digest)
    assert signature == commitment.sign(account.private_key, domain)
    assert signer.recover(digest, signature) == account.address
    assert commitment.recover(signature, domain) == account.address


def test_input_hash_commits_to_span_and_every_chunk_in_order() -> None:
    seed = input_seed("smollm2-135m-instruct", 0, 10, "float32")
    assert seed != input_seed("smollm2-135m-instruct", 0, 11, "float32")
    a_then_b = chain_input(chain_input(seed, b"a"), b"b")
    assert a_then_b != chain_input(chain_input(seed, b"b"), b"a")
    assert a_then_b == chain_input(chain_input(seed, b"a"), b"b")


def test_input_chain_rolls_back_with_the_cache() -> None:
    seed = input_seed("smollm2-135m-instruct", 0, 10, "float32")
    assert seed == input_seed("smollm2-135m-instruct", 0, 10, "float32", "none")
    assert seed != input_seed("smollm2-135m-instruct", 0, 10, "float32", "int8-blockwise")
    chain = InputChain(seed)
    first = chain.hash_step(0, b"prompt")
    chain.record(5, first)
    second = chain.hash_step(5, b"token")
    chain.record(6, second)
    assert second == chain_input(chain_input(seed, b"prompt"), b"token")
    # the step at position 5 again (a replay): chains onto the hash at 5, not at 6
    assert chain.hash_step(5, b"token") == second
    assert chain.links == [(0, seed), (5, first)]
    assert chain.hash_step(0, b"prompt") == first and chain.links == [(0, seed)]
