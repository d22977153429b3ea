"""Step evidence: each span response carries the server's EIP-712 ``OutputCommitment``
signature over (session, step, input hash, output hash, fingerprint hash); the client
keeps it for the spot-checks that referees run later.

The fingerprint (``node.engine.fingerprint``) is what honest re-executions agree on
despite float noise; the exact output hash binds the bytes the client received.

``input_hash`` commits to everything that determines the output: a seed naming the
model, span and dtype, then every input chunk of the session in order (a hash chain), so
an honest re-execution of the same inputs anywhere gives the same ``input_hash`` and,
within the referees' tolerance, the same output. Hashing is keccak256 of raw tensor bytes.

Signing computes the digest directly (domain separator once, then one keccak per step)
and signs it with eth_keys (coincurve backend: ≈ 0.1 ms), equal to
``OutputCommitment.sign`` (a test checks) but ≈ 50× faster.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_keys.datatypes import PrivateKey
from eth_keys.main import lazy_key_api as keys  # what `from eth_keys import keys` gives
from eth_utils.crypto import keccak

from node.crypto.eip712 import VERIFICATION_DOMAIN_NAME, Domain, OutputCommitment
from node.swarm.errors import ProtocolError

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def default_domain(chain_id: int = 31337, verifying_contract: str = ZERO_ADDRESS) -> Domain:
    """The Verification domain; without a deployed contract, the zero address."""
    return Domain(VERIFICATION_DOMAIN_NAME, chain_id, verifying_contract)


def input_seed(model_id: str, start: int, end: int, dtype: str, codec: str = "none") -> bytes:
    """The chain's seed: the model, the span, the wire dtype and (unless ``none``) the codec."""
    encoding = dtype if codec == "none" else f"{dtype}|{codec}"
    return keccak(f"heliomesh-span-v1|{model_id}|{start}|{end}|{encoding}".encode())


def chain_input(previous: bytes, data: bytes) -> bytes:
    """The input hash after one more chunk: keccak(previous || keccak(chunk bytes))."""
    return keccak(previous + keccak(data))


class InputChain:
    """One session's input hash chain on one span, as (position reached, hash) links from
    the seed at position 0. Both ends keep one: the server to sign, the client to check.

    A step at a position the session already passed (a replay, a push racing the
    client's own send) rolls the chain back with the KV cache, so it chains onto the
    hash the cache had at that position."""

    def __init__(self, seed: bytes) -> None:
        self.links: list[tuple[int, bytes]] = [(0, seed)]

    def hash_step(self, position: int, data: bytes) -> bytes:
        """The input hash of a chunk (its wire bytes ``data``) at ``position``: rolls the
        chain back to ``position`` first; ``record`` the result once it is accepted."""
        while len(self.links) > 1 and self.links[-1][0] > position:
            self.links.pop()
        return chain_input(self.links[-1][1], data)

    def record(self, end: int, input_hash: bytes) -> None:
        """Append the link for a chunk that ends at position ``end``."""
        self.links.append((end, input_hash))


def session_key(session_id: str) -> bytes:
    """A session id (64 hex chars) as the commitment's bytes32."""
    return bytes.fromhex(session_id)


NO_FINGERPRINT = b"\0" * 32  # the fingerprint hash of a commitment that carries none


def fingerprint_hash(blob: bytes) -> bytes:
    """What a commitment signs of a fingerprint blob: keccak256 (``NO_FINGERPRINT`` if empty)."""
    return keccak(blob) if blob else NO_FINGERPRINT


class CommitmentSigner:
    """Signs and checks ``OutputCommitment`` digests under one domain."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        sample = OutputCommitment(b"\0" * 32, 0, b"\0" * 32, b"\0" * 32)
        self._separator = sample.signable(domain).header  # the domain separator
        self._typehash = OutputCommitment.typehash()

    def digest(self, session: bytes, step: int, input_hash: bytes, output_hash: bytes,
               fingerprint: bytes = NO_FINGERPRINT) -> bytes:
        """The commitment's EIP-712 digest; ``fingerprint`` is the fingerprint *hash*."""
        words = self._typehash + session + step.to_bytes(32, "big") + input_hash + output_hash + fingerprint
        return keccak(b"\x19\x01" + self._separator + keccak(words))

    def sign(self, key: PrivateKey, digest: bytes) -> bytes:
        """65 bytes r || s || v with v in {27, 28}, as Solidity's ECDSA.recover expects."""
        raw = key.sign_msg_hash(digest).to_bytes()
        return raw[:64] + bytes([raw[64] + 27])

    def recover(self, digest: bytes, signature: bytes) -> str:
        if len(signature) != 65 or signature[64] not in (27, 28):
            raise ProtocolError("a commitment signature must be 65 bytes with v in {27, 28}")
        try:
            sig = keys.Signature(signature[:64] + bytes([signature[64] - 27]))
            return str(sig.recover_public_key_from_msg_hash(digest).to_checksum_address())
        except Exception as exc:  # eth_keys raises several types for a malformed signature
            raise ProtocolError(f"unrecoverable commitment signature: {type(exc).__name__}") from None


@dataclass(frozen=True)
class StepEvidence:
    """What the client keeps per hop and step: enough for a referee to re-run and compare."""

    peer_id: str
    address: str
    session_id: str
    start: int
    end: int
    step: int
    position: int
    input_hash: bytes
    output_hash: bytes
    signature: bytes
    fingerprint: bytes = b""  # the blob (node.engine.fingerprint); its keccak is signed
    tokens: int = 1  # tokens of the step

    def commitment(self) -> OutputCommitment:
        return OutputCommitment(session_key(self.session_id), self.step, self.input_hash,
                                self.output_hash, fingerprint_hash(self.fingerprint))
