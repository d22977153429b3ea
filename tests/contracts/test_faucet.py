"""Faucet.sol: one drip per address per cooldown, at most windowCap drips per window over
all addresses, never more than it holds; the deployed one is funded by the profile."""

from __future__ import annotations

from typing import Any, cast

import pytest
from chainkit import DEPLOYER, actor
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.chain.artifacts import load_artifact
from node.chain.connect import local_account, transact
from node.chain.deployment import Deployment
from node.chain.profiles import PROFILES

ALICE, BOB, CAROL = actor("faucet alice"), actor("faucet bob"), actor("faucet carol")


def _warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _small_faucet(w3: Web3, token: Contract, *, reserve: int, cap: int) -> Contract:
    """drip 10 wei, cooldown 100 s, ``cap`` drips per 1000 s, ``reserve`` wei in it."""
    artifact = load_artifact("Faucet")
    deployer = local_account(DEPLOYER.private_key)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    address = transact(w3, deployer, factory.constructor(token.address, 10, 100, cap, 1000))[
        "contractAddress"
    ]
    transact(w3, deployer, token.functions.transfer(address, reserve))
    return cast(Contract, w3.eth.contract(address=address, abi=artifact.abi))


def _drip_error(w3: Web3, faucet: Contract, to: str) -> tuple[str, tuple[Any, ...]]:
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, local_account(DEPLOYER.private_key), faucet.functions.drip(to))
    return load_artifact("Faucet").decode_error(str(excinfo.value.data))


def test_deployed_faucet_is_funded_by_the_profile(
    w3: Web3, deployment: Deployment, token: Contract
) -> None:
    faucet = deployment.contract(w3, "Faucet")
    plan = PROFILES["local"].faucet
    assert token.functions.balanceOf(faucet.address).call() == plan.reserve
    assert faucet.functions.dripAmount().call() == plan.drip
    assert faucet.functions.rateLimit().call() == [plan.window_cap, plan.window_s]
    receipt = transact(w3, local_account(DEPLOYER.private_key), faucet.functions.drip(ALICE.address))
    (event,) = faucet.events.FaucetDripped().process_receipt(receipt, errors=DISCARD)
    assert event.args == {"to": ALICE.address, "amount": plan.drip}
    assert token.functions.balanceOf(ALICE.address).call() == plan.drip


def test_drip_once_per_cooldown(w3: Web3, token: Contract) -> None:
    faucet = _small_faucet(w3, token, reserve=100, cap=10)
    transact(w3, local_account(DEPLOYER.private_key), faucet.functions.drip(ALICE.address))
    ready_at = faucet.functions.readyAt(ALICE.address).call()
    assert ready_at == w3.eth.get_block("latest")["timestamp"] + 100
    assert _drip_error(w3, faucet, ALICE.address) == ("FaucetCooldown", (ALICE.address, ready_at))
    _warp(w3, 100)
    transact(w3, local_account(DEPLOYER.private_key), faucet.functions.drip(ALICE.address))
    assert token.functions.balanceOf(ALICE.address).call() == 20


def test_window_cap_limits_fresh_addresses(w3: Web3, token: Contract) -> None:
    """A Sybil with many fresh addresses gets windowCap drips per window, no more."""
    faucet = _small_faucet(w3, token, reserve=100, cap=2)
    deployer = local_account(DEPLOYER.private_key)
    transact(w3, deployer, faucet.functions.drip(ALICE.address))
    transact(w3, deployer, faucet.functions.drip(BOB.address))
    name, (cap, opens_at) = _drip_error(w3, faucet, CAROL.address)
    assert (name, cap) == ("FaucetWindowFull", 2)
    assert opens_at > w3.eth.get_block("latest")["timestamp"]
    _warp(w3, 1000)
    transact(w3, deployer, faucet.functions.drip(CAROL.address))
    assert token.functions.balanceOf(CAROL.address).call() == 10


def test_empty_faucet_refuses(w3: Web3, token: Contract) -> None:
    faucet = _small_faucet(w3, token, reserve=15, cap=10)
    transact(w3, local_account(DEPLOYER.private_key), faucet.functions.drip(ALICE.address))
    assert _drip_error(w3, faucet, BOB.address) == ("FaucetEmpty", (5, 10))


def test_zero_parameters_refused(w3: Web3, token: Contract) -> None:
    artifact = load_artifact("Faucet")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, local_account(DEPLOYER.private_key),
                 factory.constructor(token.address, 0, 100, 1, 1))  # fmt: skip
    assert artifact.decode_error(str(excinfo.value.data)) == ("FaucetInvalidParameters", ())


