"""The EIP-712 structs of the Heliomesh contracts, mirrored once from Solidity.

Each struct here has the same name, field names, field types and field order as its
``TYPEHASH`` string in ``contracts/`` (tests/contracts/test_eip712.py checks that the
Python digest equals the contract's). Sign with ``struct.sign(key, domain)``; check with
``struct.recover(signature, domain)``.

=====================  ==============================  ============================
struct                 signed by                       domain (name, version "1")
=====================  ==============================  ============================
``EnergyReport``       the inferer's attestation key   "Heliomesh EnergyAttestations"
``Voucher``            the paying client               "Heliomesh Payments"
``EpochRoot``          each referee of an epoch root   "Heliomesh Payments"
``OutputCommitment``   the inferer that ran a span     "Heliomesh Verification"
``FraudClaim``         verifiers confirming a claim    "Heliomesh Verification"
=====================  ==============================  ============================

``model_key("smollm2-135m-instruct")`` is the on-chain key of a model id:
``keccak256(bytes(model_id))`` (ARCHITECTURE.md §3).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from node.core.errors import ConfigError
from node.core.names import validate_model_id

ENERGY_DOMAIN_NAME = "Heliomesh EnergyAttestations"
PAYMENTS_DOMAIN_NAME = "Heliomesh Payments"
VERIFICATION_DOMAIN_NAME = "Heliomesh Verification"
DOMAIN_VERSION = "1"

BPS = 10_000  # basis points: 10_000 = 100 %

_UINT_MAX = {f"uint{n}": 2**n - 1 for n in range(8, 257, 8)}


class InfererState(IntEnum):
    """``EnergyReport.state``; the same order as ``IEnergyAttestations.InfererState``."""

    JOINING = 0
    LOADING = 1
    ONLINE = 2
    DRAINING = 3
    OFFLINE = 4


def model_key(model_id: str) -> bytes:
    """The on-chain key of a model: ``keccak256(bytes(model_id))`` (32 bytes)."""
    validate_model_id(model_id)
    return keccak(text=model_id)


@dataclass(frozen=True)
class Domain:
    """An EIP-712 domain; read it from the contract with ``Domain.of(contract)``."""

    name: str
    chain_id: int
    verifying_contract: str
    version: str = DOMAIN_VERSION

    def __post_init__(self) -> None:
        if not is_address(self.verifying_contract):
            raise ConfigError(f"verifying contract {self.verifying_contract!r} is not an address")
        object.__setattr__(self, "verifying_contract", to_checksum_address(self.verifying_contract))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    @classmethod
    def of(cls, contract: Any) -> Domain:
        """The domain a deployed contract uses (ERC-5267 ``eip712Domain()``)."""
        _, name, version, chain_id, verifying_contract, _, _ = (
            contract.functions.eip712Domain().call()
        )
        return cls(name, chain_id, verifying_contract, version)


def _check_field(struct: str, name: str, kind: str, value: Any) -> Any:
    """Range/type check one field so a bad value fails here, not as an on-chain revert."""
    if kind == "address":
        if not isinstance(value, str) or not is_address(value):
            raise ConfigError(f"{struct}.{name} must be an address, got {value!r}")
        return to_checksum_address(value)
    if kind == "bytes32":
        if isinstance(value, str):
            value = bytes.fromhex(value.removeprefix("0x"))
        if not isinstance(value, bytes | bytearray) or len(value) != 32:
            raise ConfigError(f"{struct}.{name} must be 32 bytes, got {value!r}")
        return bytes(value)
    if kind in _UINT_MAX:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{struct}.{name} must be an int, got {type(value).__name__}")
        if not 0 <= value <= _UINT_MAX[kind]:
            raise ConfigError(f"{struct}.{name}={value} is out of range for {kind}")
        return int(value)
    raise AssertionError(f"unsupported EIP-712 type {kind}")  # a programming error


@dataclass(frozen=True)
class Struct:
    """Base of the mirrored structs: ``FIELDS`` is the Solidity field list, in order."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    # Python attribute names are the Solidity names in snake_case, in the same order.

    def __post_init__(self) -> None:
        for (name, kind), attr in zip(self.FIELDS, self._attrs(), strict=True):
            checked = _check_field(type(self).__name__, name, kind, getattr(self, attr))
            object.__setattr__(self, attr, checked)

    @classmethod
    def _attrs(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def type_string(cls) -> str:
        """``Name(type field,...)``: the string Solidity hashes into its ``TYPEHASH``."""
        return f"{cls.__name__}({','.join(f'{k} {n}' for n, k in cls.FIELDS)})"

    @classmethod
    def typehash(cls) -> bytes:
        return keccak(text=cls.type_string())

    def message(self) -> dict[str, Any]:
        return {
            name: getattr(self, attr)
            for (name, _), attr in zip(self.FIELDS, self._attrs(), strict=True)
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as web3 passes it to a contract function (field order)."""
        return tuple(getattr(self, attr) for attr in self._attrs())

    def typed_data(self, domain: Domain) -> dict[str, Any]:
        """The full EIP-712 message (what a wallet's ``eth_signTypedData_v4`` takes)."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                type(self).__name__: [{"name": n, "type": k} for n, k in self.FIELDS],
            },
            "primaryType": type(self).__name__,
            "domain": domain.as_dict(),
            "message": self.message(),
        }

    def signable(self, domain: Domain) -> SignableMessage:
        return encode_typed_data(full_message=self.typed_data(domain))

    def digest(self, domain: Domain) -> bytes:
        """``_hashTypedDataV4(structHash)``: the 32 bytes that get signed."""
        m = self.signable(domain)
        return keccak(b"\x19" + m.version + m.header + m.body)

    def sign(self, private_key: str | bytes, domain: Domain) -> bytes:
        """A 65-byte ``r || s || v`` signature, as ``ECDSA.recover`` expects."""
        signed = Account.sign_typed_data(private_key, full_message=self.typed_data(domain))
        return bytes(signed.signature)

    def recover(self, signature: bytes, domain: Domain) -> str:
        """The checksummed address that signed this struct under ``domain``."""
        return str(Account.recover_message(self.signable(domain), signature=signature))


@dataclass(frozen=True)
class EnergyReport(Struct):
    """One signed energy report (contracts/EnergyAttestations.sol)."""

    FIELDS = (
        ("inferer", "address"),
        ("timestamp", "uint64"),  # unix seconds when measured
        ("availablePowerW", "uint32"),  # renewable power available now, W
        ("batterySocBps", "uint16"),  # battery state of charge, 0..10000 (no battery: 0)
        ("headroomW", "uint32"),  # renewable power beyond the machine's own draw, W
        ("state", "uint8"),  # InfererState
        ("nonce", "uint64"),  # strictly increasing per inferer
    )

    inferer: str
    timestamp: int
    available_power_w: int
    battery_soc_bps: int
    headroom_w: int
    state: int
    nonce: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.battery_soc_bps > BPS:
            raise ConfigError(f"EnergyReport.batterySocBps={self.battery_soc_bps} exceeds {BPS}")
        if self.state not in tuple(InfererState):
            raise ConfigError(f"EnergyReport.state={self.state} is not an InfererState (0..4)")


@dataclass(frozen=True)
class Voucher(Struct):
    """A cumulative payment voucher a client signs for a channel (contracts/Payments.sol)."""

    FIELDS = (
        ("client", "address"),
        ("payee", "address"),
        ("channel", "uint256"),  # channel id from Payments.openChannel
        ("modelId", "bytes32"),  # model_key(model id)
        ("cumulativeAmount", "uint256"),  # total paid on this channel so far, token wei
        ("expiry", "uint64"),  # unix seconds; redeeming after it reverts
    )

    client: str
    payee: str
    channel: int
    model_id: bytes
    cumulative_amount: int
    expiry: int


@dataclass(frozen=True)
class EpochRoot(Struct):
    """A referee's approval of one payee's epoch root (contracts/Payments.sol
    ``postEpochRoot``); ``nonce`` is ``Payments.epochNonceOf(payee)``, so no approval is
    ever spent twice."""

    FIELDS = (
        ("payee", "address"),  # whose pool (a gateway's 70 %) the root spends
        ("root", "bytes32"),  # node.chain.merkle.RewardTree root
        ("total", "uint256"),  # token wei, the sum of the leaves
        ("nonce", "uint256"),
    )

    payee: str
    root: bytes
    total: int
    nonce: int


@dataclass(frozen=True)
class OutputCommitment(Struct):
    """An inferer's signature over one span step it computed (contracts/Verification.sol).

    ``input_hash`` must commit to everything that determines the output (model id, span,
    the hidden states sent and the prefix they extend), so two honest executions of the
    same input hash give the same ``output_hash`` up to the referees' tolerance.
    ``fingerprint_hash`` is keccak256 of the output's fingerprint blob (the tolerant
    summary two honest executions agree on exactly; docs/verification.md); a fraud claim
    needs independent commitments that share one fingerprint hash differing from the
    accused's. 32 zero bytes means "no fingerprint" (such a commitment cannot accuse).
    """

    FIELDS = (
        ("session", "bytes32"),
        ("step", "uint32"),
        ("inputHash", "bytes32"),
        ("outputHash", "bytes32"),
        ("fingerprintHash", "bytes32"),
    )

    session: bytes
    step: int
    input_hash: bytes
    output_hash: bytes
    fingerprint_hash: bytes = b"\0" * 32


@dataclass(frozen=True)
class FraudClaim(Struct):
    """What a verifier signs to confirm a fraud claim (contracts/Verification.sol).

    ``evidence_hash`` is ``keccak256(abi.encode(bytes32[] commitmentDigests))`` over the
    accused commitment's digest followed by the conflicting ones, in claim order.
    """

    FIELDS = (
        ("accused", "address"),
        ("reporter", "address"),
        ("inputHash", "bytes32"),
        ("accusedOutputHash", "bytes32"),
        ("evidenceHash", "bytes32"),
    )

    accused: str
    reporter: str
    input_hash: bytes
    accused_output_hash: bytes
    evidence_hash: bytes


def evidence_hash(commitment_digests: list[bytes]) -> bytes:
    """``keccak256(abi.encode(bytes32[]))`` of commitment digests (accused first)."""
    from eth_abi.abi import encode

    return keccak(encode(["bytes32[]"], [commitment_digests]))


__all__ = [
    "BPS",
    "DOMAIN_VERSION",
    "ENERGY_DOMAIN_NAME",
    "PAYMENTS_DOMAIN_NAME",
    "VERIFICATION_DOMAIN_NAME",
    "Domain",
    "EnergyReport",
    "EpochRoot",
    "FraudClaim",
    "InfererState",
    "OutputCommitment",
    "Struct",
    "Voucher",
    "evidence_hash",
    "model_key",
]
