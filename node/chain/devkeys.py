"""Anvil's default dev accounts.

PUBLIC DEV KEYS — NEVER USE FOR REAL FUNDS. These are derived from the mnemonic that
anvil (and hardhat) print to everyone on startup; any funds sent to these addresses on
a public chain are taken within seconds. They exist so the local demo and the tests can
sign without a key file.
"""

from __future__ import annotations

from typing import NamedTuple

from node.core.errors import ConfigError

# Anvil's default chain id (when started without --chain-id).
ANVIL_CHAIN_ID = 31337
# BIP-39 mnemonic anvil derives its accounts from, path m/44'/60'/0'/0/<index>.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class DevAccount(NamedTuple):
    address: str  # checksummed
    private_key: str  # 0x-prefixed hex; PUBLIC, see module docstring


# Index i is anvil's account (i); tests check these against anvil's own eth_accounts.
DEV_ACCOUNTS: tuple[DevAccount, ...] = (
    DevAccount(
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    DevAccount(
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    DevAccount(
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
    DevAccount(
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ),
    DevAccount(
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    ),
    DevAccount(
        "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
        "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    ),
    DevAccount(
        "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
        "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    ),
    DevAccount(
        "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    ),
    DevAccount(
        "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
        "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    ),
    DevAccount(
        "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    ),
)

_DEV_KEYS = frozenset(a.private_key.lower() for a in DEV_ACCOUNTS)
_DEV_ADDRESSES = frozenset(a.address.lower() for a in DEV_ACCOUNTS)


def is_dev_key(private_key: str) -> bool:
    """Is this one of anvil's public dev keys (with or without ``0x``, any case)?"""
    key = private_key.strip().lower()
    return (key if key.startswith("0x") else "0x" + key) in _DEV_KEYS


def refuse_dev_key(private_key: str | None, chain_id: int, what: str) -> None:
    """The one check every signer runs (deploy, ``helio node serve --dev-key``, the
    gateway): an anvil dev key is only accepted on the local chain (31337); anywhere else
    anyone can take what it holds, so ``ConfigError`` says what to use instead."""
    if private_key is None or chain_id == ANVIL_CHAIN_ID or not is_dev_key(private_key):
        return
    raise ConfigError(
        f"{what} is one of anvil's public dev keys, and the chain id is {chain_id}, not "
        f"{ANVIL_CHAIN_ID}: anyone can take what such a key holds. Use your own key "
        "(HELIO_PRIVATE_KEY, or a key file) on any chain but the local demo chain."
    )


def refuse_dev_address(address: str, chain_id: int, what: str) -> None:
    """``refuse_dev_key`` for a caller that only has the address (a key held elsewhere)."""
    if chain_id != ANVIL_CHAIN_ID and address.lower() in _DEV_ADDRESSES:
        raise ConfigError(
            f"{what} ({address}) is one of anvil's public dev accounts and the chain id is "
            f"{chain_id}, not {ANVIL_CHAIN_ID}: use your own key"
        )
