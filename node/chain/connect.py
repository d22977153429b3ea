"""Reach a chain with web3.py: connect, refuse the wrong chain, sign and send."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception
from web3.types import TxParams, TxReceipt

from node.core.errors import ChainError, ConfigError

DEFAULT_RPC_TIMEOUT_S = 10.0  # one JSON-RPC request
DEFAULT_RECEIPT_TIMEOUT_S = 120.0  # a testnet may take a few blocks to include a tx


class Transactable(Protocol):
    """A web3 contract call or constructor: anything that builds a transaction."""

    def build_transaction(self, transaction: TxParams | None = None) -> TxParams: ...


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` only: RPC URLs often carry an API key in path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def connect(
    rpc_url: str,
    *,
    expected_chain_id: int | None = None,
    timeout: float = DEFAULT_RPC_TIMEOUT_S,
) -> Web3:
    """A ``Web3`` on ``rpc_url`` that answered; ``ChainError`` if unreachable or wrong chain."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        chain_id = w3.eth.chain_id
    except (OSError, ValueError, Web3Exception) as e:
        raise ChainError(
            f"cannot reach the RPC at {redact_url(rpc_url)}: {type(e).__name__}"
        ) from None
    if expected_chain_id is not None:
        _require_chain_id(chain_id, expected_chain_id, rpc_url)
    return w3


def check_chain_id(w3: Web3, expected: int) -> int:
    """The chain id of ``w3``; ``ChainError`` naming both ids if it is not ``expected``."""
    url = getattr(w3.provider, "endpoint_uri", None) or "the RPC"
    chain_id = w3.eth.chain_id
    _require_chain_id(chain_id, expected, str(url))
    return chain_id


def _require_chain_id(actual: int, expected: int, rpc_url: str) -> None:
    if actual != expected:
        raise ChainError(
            f"wrong chain: {redact_url(rpc_url)} has chain id {actual}, expected {expected}; "
            "check HELIO_RPC_URL / HELIO_CHAIN_ID"
        )


def local_account(private_key: str | SecretStr) -> LocalAccount:
    """A signing account from a hex key; the key never appears in an error message."""
    key = private_key.get_secret_value() if isinstance(private_key, SecretStr) else private_key
    try:
        account: LocalAccount = Account.from_key(key)
    except (ValueError, TypeError):
        raise ConfigError("the private key is not a 32-byte hex key (HELIO_PRIVATE_KEY)") from None
    return account


GAS_MARGIN_RATIO = 1.2  # estimates run in the latest block's context, the tx in the next
GAS_MARGIN_FIXED = 50_000  # e.g. a vote checkpoint updated in place vs. pushed anew (2 slots)


def _with_margin(estimate: int) -> int:
    """Gas limit for an estimate: state that depends on ``block.number`` (checkpoints) can
    cost more in the block the transaction really lands in. Unused gas is not charged."""
    return int(estimate * GAS_MARGIN_RATIO) + GAS_MARGIN_FIXED


def transact(
    w3: Web3,
    account: LocalAccount,
    call: Transactable,
    *,
    value: int = 0,
    receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT_S,
) -> TxReceipt:
    """Build, sign locally, send and wait; ``ChainError`` if the transaction reverted.

    Gas estimation runs first, so a revert with a custom error surfaces as web3's
    ``ContractCustomError`` before anything is sent.
    """
    tx_fields: dict[str, Any] = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "value": value,
    }
    tx = call.build_transaction(TxParams(**tx_fields))  # type: ignore[typeddict-item]
    tx["gas"] = _with_margin(int(tx["gas"]))
    signed = account.sign_transaction(tx)  # type: ignore[arg-type]
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=receipt_timeout)
    if receipt["status"] != 1:
        raise ChainError(f"transaction 0x{bytes(tx_hash).hex()} reverted (status 0)")
    return receipt
