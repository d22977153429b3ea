"""DHT announcements: what an inferer says about itself, signed with its Ethereum key.

One record per server is stored under every block it serves: key ``"{model_id}.{block}"``,
subkey = the server's libp2p peer id, value = ``SignedRecord`` bytes (JSON), expiring
≈ 2 × the refresh period. Readers validate everything (schema, ranges, signature, key and
subkey against the record) and ignore what fails, logging why: a record comes from a peer.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Final, Literal

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from node.core.names import validate_model_id
from node.engine.codecs import CodecName
from node.swarm.errors import RecordError

PROTOCOL_VERSION: Final = 1
MAX_BLOCKS = 4096  # no model has more blocks; bounds every block index a peer sends
MAX_RECORD_BYTES = 8192  # a signed record is ≈ 700 bytes; anything far larger is refused
PEER_ID_PATTERN = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{40,64}$")  # base58 multihash
MAX_PINGS = 32
MAX_MADDRS = 8
MAX_ENERGY_CHARS = 2048  # node.energy.attest.MAX_PAYLOAD_BYTES
ENERGY_KEYS = frozenset({"report", "signature", "extras", "extras_signature"})


def software_version() -> str:
    try:
        return version("heliomesh")
    except PackageNotFoundError:  # running from a checkout without `pip install -e`
        return "0.0.0+checkout"


class ServerState(StrEnum):
    """``joining → loading → online → draining → offline`` (ARCHITECTURE.md §3)."""

    JOINING = "joining"
    LOADING = "loading"
    ONLINE = "online"
    DRAINING = "draining"
    OFFLINE = "offline"


def _raw_only() -> list[CodecName]:
    return ["none"]


class ServerRecord(BaseModel):
    """One inferer's announcement. Every field is range-checked: it arrives from a peer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: Literal[1] = PROTOCOL_VERSION
    peer_id: str = Field(pattern=PEER_ID_PATTERN.pattern)
    address: str = Field(description="the inferer's Ethereum address (signs this record)")
    model_id: str
    state: ServerState
    start: int = Field(ge=0, lt=MAX_BLOCKS)
    end: int = Field(gt=0, le=MAX_BLOCKS)
    throughput: float = Field(ge=0, le=1e6, description="measured tokens/s through the span")
    cache_tokens_left: int = Field(ge=0, le=10**9)
    sessions: int = Field(0, ge=0, le=10**6, description="inference sessions open now")
    dtype: Literal["float32", "bfloat16", "float16"]
    quantization: Literal["none", "int8", "int8-dynamic", "int4"] = "none"  # of its weights
    # wire codecs it accepts, best first (node.engine.codecs.offered_codecs); older
    # records name none: they get raw hidden states
    codecs: list[CodecName] = Field(default_factory=_raw_only, min_length=1, max_length=8)
    software_version: str = Field(max_length=40)
    relayed: bool = Field(False, description="reachable only through a relay")
    region: str = Field("", max_length=32)
    pings: dict[str, float] = Field(
        default_factory=dict, description="measured RTT (ms) to servers after this one"
    )
    maddrs: list[str] = Field(
        default_factory=list, max_length=MAX_MADDRS,
        description="multiaddrs to dial it at (relay circuit addresses included)",
    )
    energy: str | None = Field(
        None, max_length=MAX_ENERGY_CHARS,
        description="latest signed EnergyReport payload (node.energy.attest.EnergyPayload JSON); "
        "referees verify it (node.referee.energy_records) before trusting it",
    )
    manifest_cid: str | None = Field(
        None, pattern=r"^Qm[1-9A-HJ-NP-Za-km-z]{44}$",
        description="CID of the manifest of the weights it serves: routes chain only spans "
        "of one manifest (the same model id may name other weights elsewhere)",
    )
    problem: str | None = Field(
        None, max_length=300,
        description="what went wrong that it could not fix itself (a failed fetch of the "
        "span it meant to move to); it keeps serving its announced span",
    )
    timestamp: float = Field(gt=0, description="DHT time when signed")

    @field_validator("model_id")
    @classmethod
    def _model_id(cls, value: str) -> str:
        return validate_model_id(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_checksum_address(value):
            raise ValueError("address must be a checksummed Ethereum address")
        return value

    @field_validator("pings")
    @classmethod
    def _pings(cls, pings: dict[str, float]) -> dict[str, float]:
        if len(pings) > MAX_PINGS:
            raise ValueError(f"at most {MAX_PINGS} pings")
        for peer, rtt in pings.items():
            if not PEER_ID_PATTERN.match(peer) or not 0 <= rtt <= 60_000:
                raise ValueError(f"bad ping entry {peer!r}: {rtt!r}")
        return pings

    @field_validator("maddrs")
    @classmethod
    def _maddrs(cls, maddrs: list[str]) -> list[str]:
        for maddr in maddrs:
            check_maddr(maddr)
        return maddrs

    @field_validator("energy")
    @classmethod
    def _energy(cls, energy: str | None) -> str | None:
        if energy is None:
            return None
        try:
            doc = json.loads(energy)
        except ValueError:
            raise ValueError("energy must be the JSON of a signed energy payload") from None
        if not isinstance(doc, dict) or set(doc) != ENERGY_KEYS:
            raise ValueError(f"energy must be an object with keys {sorted(ENERGY_KEYS)}")
        return energy

    @model_validator(mode="after")
    def _span(self) -> ServerRecord:
        if self.end <= self.start:
            raise ValueError(f"empty span [{self.start}, {self.end})")
        return self

    @property
    def blocks(self) -> range:
        return range(self.start, self.end)

    def canonical(self) -> bytes:
        """The bytes that get signed: sorted-key JSON without spaces."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")).encode()


def check_maddr(maddr: str) -> str:
    """A multiaddr of at most 256 characters, or ``ValueError``."""
    from hivemind.utils.multiaddr import Multiaddr

    if len(maddr) > 256:
        raise ValueError("multiaddr longer than 256 characters")
    try:
        Multiaddr(maddr)
    except Exception:
        raise ValueError(f"not a multiaddr: {maddr[:80]!r}") from None
    return maddr


def sign_record(record: ServerRecord, private_key: str | bytes) -> bytes:
    """The DHT value for ``record``: ``{"record": {...}, "signature": "0x…"}`` (EIP-191)."""
    key_address = Account.from_key(private_key).address
    if key_address != record.address:
        raise RecordError(
            f"record names {record.address} but the key is {key_address}; "
            "announce with the inferer's own key"
        )
    signed = Account.sign_message(encode_defunct(record.canonical()), private_key=private_key)
    value = {"record": record.model_dump(mode="json", exclude_none=True), "signature": "0x" + bytes(signed.signature).hex()}
    return json.dumps(value, separators=(",", ":")).encode()


def parse_record(value: object, *, model_id: str, block: int, subkey: object) -> ServerRecord:
    """Validate one DHT value found under ``"{model_id}.{block}"``/``subkey``.

    Raises ``RecordError`` saying what is wrong; a valid record is signed by its address,
    names the same model and peer id as its key/subkey, and covers ``block``.
    """
    if not isinstance(value, bytes):
        raise RecordError(f"value is {type(value).__name__}, expected bytes")
    if len(value) > MAX_RECORD_BYTES:
        raise RecordError(f"record is {len(value)} bytes, over {MAX_RECORD_BYTES}")
    record = _verified(value)
    if record.model_id != model_id:
        raise RecordError(f"record for {record.model_id} stored under {model_id}.{block}")
    if subkey != record.peer_id:
        raise RecordError(f"subkey {subkey!r} differs from the record's peer id {record.peer_id}")
    if block not in record.blocks:
        raise RecordError(f"stored under block {block} but claims [{record.start}, {record.end})")
    return record


@lru_cache(maxsize=4096)
def _verified(value: bytes) -> ServerRecord:
    """Schema + signature check, cached by value: a record is stored under every block
    of its span, so the same bytes arrive many times per lookup."""
    try:
        outer = json.loads(value)
        if not isinstance(outer, dict) or set(outer) != {"record", "signature"}:
            raise RecordError("value must be {record, signature}")
        record = ServerRecord.model_validate(outer["record"])
        signature = bytes.fromhex(str(outer["signature"]).removeprefix("0x"))
    except (ValueError, ValidationError) as exc:
        raise RecordError(f"malformed record: {_first_line(exc)}") from None
    if len(signature) != 65:
        raise RecordError("signature must be 65 bytes")
    try:
        signer = Account.recover_message(encode_defunct(record.canonical()), signature=signature)
    except Exception as exc:  # eth_keys raises several types for a bad signature
        raise RecordError(f"bad signature: {type(exc).__name__}") from None
    if signer != record.address:
        raise RecordError(f"signed by {signer}, not by the record's address {record.address}")
    return record


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
