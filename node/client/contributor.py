"""``X-Helio-Contributor``: a staked inferer proves its address to one gateway, for that
gateway's higher free-tier limits.

The proof is EIP-712 typed data (``ContributorProof``) with an audience: the gateway's
address (its payee, ``GET /v1/payments`` → ``payee``) and the chain id, so a proof sent to
one gateway cannot be replayed at another (or on another chain), and a lifetime of at
most ``MAX_LIFETIME_S``, so a leaked header is soon worthless. Header:

    <contributor>.<audience>.<chain id>.<issued at>.<expiry>.<0x signature>

    header = contributor_header(key, audience=gateway_payee, chain_id=31337)
    address = recover_contributor(header, audience=my_payee, chain_id=31337)  # the gateway
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from node.core.errors import ConfigError
from node.crypto.eip712 import Domain, Struct

CONTRIBUTOR_HEADER = "X-Helio-Contributor"
CONTRIBUTOR_DOMAIN_NAME = "Heliomesh Contributor"
MAX_LIFETIME_S = 3600  # a proof meant to live longer is refused: sign a new one hourly
DEFAULT_LIFETIME_S = 600
CLOCK_SKEW_S = 60  # a proof issued this far in the gateway's future is still accepted


@dataclass(frozen=True)
class ContributorProof(Struct):
    """What the contributor signs (off-chain only: no contract checks it)."""

    FIELDS = (
        ("contributor", "address"),
        ("audience", "address"),  # the gateway (its payee address) the proof is for
        ("issuedAt", "uint64"),  # unix seconds
        ("expiry", "uint64"),  # unix seconds, at most MAX_LIFETIME_S after issuedAt
    )

    contributor: str
    audience: str
    issued_at: int
    expiry: int


def contributor_domain(audience: str, chain_id: int) -> Domain:
    return Domain(CONTRIBUTOR_DOMAIN_NAME, chain_id, audience)


def contributor_header(private_key: str, audience: str, chain_id: int,
                       lifetime_s: int = DEFAULT_LIFETIME_S) -> str:  # fmt: skip
    """A proof for the gateway ``audience`` on ``chain_id``, valid ``lifetime_s`` from now."""
    from eth_account import Account

    now = int(time.time())
    proof = ContributorProof(Account.from_key(private_key).address, audience, now, now + lifetime_s)
    signature = proof.sign(private_key, contributor_domain(proof.audience, chain_id))
    return (
        f"{proof.contributor}.{proof.audience}.{chain_id}.{now}.{proof.expiry}.0x{signature.hex()}"
    )


def recover_contributor(header: str, audience: str, chain_id: int, now: float | None = None) -> str:
    """The address a contributor header proves to the gateway ``audience``, or
    ``ConfigError`` saying what is wrong with it."""
    try:
        contributor, to, chain, issued_at, expiry, signature = header.strip().split(".")
        proof = ContributorProof(contributor, to, int(issued_at), int(expiry))
        chain_of_proof = int(chain)
        signer = proof.recover(
            bytes.fromhex(signature.removeprefix("0x")), contributor_domain(to, chain_of_proof)
        )
    except Exception as exc:  # noqa: BLE001 (any decoding failure is the same answer)
        raise ConfigError(
            f"{CONTRIBUTOR_HEADER} must be '<address>.<gateway>.<chain id>.<issued at>.<expiry>."
            f"<signature>' made by node.client.contributor.contributor_header ({type(exc).__name__})"
        ) from None
    if signer != proof.contributor:
        raise ConfigError(f"{CONTRIBUTOR_HEADER} is not signed by {proof.contributor}")
    if proof.audience.lower() != audience.lower() or chain_of_proof != chain_id:
        raise ConfigError(
            f"{CONTRIBUTOR_HEADER} is for gateway {proof.audience} on chain {chain_of_proof}; this "
            f"is {audience} on chain {chain_id} (sign one for this gateway's payee address)"
        )
    moment = time.time() if now is None else now
    if proof.expiry - proof.issued_at > MAX_LIFETIME_S:
        raise ConfigError(f"{CONTRIBUTOR_HEADER} lives {proof.expiry - proof.issued_at} s; at most "
                          f"{MAX_LIFETIME_S} s are accepted")  # fmt: skip
    if proof.issued_at > moment + CLOCK_SKEW_S:
        raise ConfigError(f"{CONTRIBUTOR_HEADER} is issued in the future; check your clock")
    if proof.expiry < moment:
        raise ConfigError(f"{CONTRIBUTOR_HEADER} expired; sign a new one")
    return signer
