"""Helpers shared by the contract tests (imported as ``chainkit``: tests/ has no packages).

Test actors are fresh keys derived from their names, not anvil's dev accounts 1..9 (the
local deployment funds those with tokens), so every test starts them at zero tokens.
``as_timelock`` runs a call as the Timelock (anvil impersonation), standing in for a
passed governance vote where a test is about something else.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.types import TxReceipt

from node.chain.artifacts import load_artifact
from node.chain.connect import Transactable, local_account, transact
from node.chain.devkeys import DEV_ACCOUNTS, DevAccount

ZERO_ADDRESS = "0x" + "00" * 20
DEPLOYER = DEV_ACCOUNTS[0]
HELIO = 10**18
ETH = 10**18


def actor(name: str) -> DevAccount:
    """A deterministic key for ``name`` (no tokens until a test gives some)."""
    key = "0x" + Web3.keccak(text=f"heliomesh test actor {name}").hex().removeprefix("0x")
    return DevAccount(Account.from_key(key).address, key)


def fund_eth(w3: Web3, *accounts: DevAccount) -> None:
    for a in accounts:
        w3.provider.make_request("anvil_setBalance", [a.address, hex(100 * ETH)])  # type: ignore[arg-type]


def send(w3: Web3, who: DevAccount, call: Transactable) -> TxReceipt:
    return transact(w3, local_account(who.private_key), call)


def revert(
    w3: Web3, who: DevAccount, call: Transactable, contract_name: str
) -> tuple[str, tuple[Any, ...]]:
    """Send ``call`` expecting a custom-error revert; the decoded (name, args)."""
    with pytest.raises(ContractCustomError) as excinfo:
        send(w3, who, call)
    return load_artifact(contract_name).decode_error(str(excinfo.value.data))


def as_timelock(w3: Web3, timelock: str, call: Transactable) -> TxReceipt:
    """Send ``call`` from the Timelock's address (anvil impersonation)."""
    w3.provider.make_request("anvil_impersonateAccount", [timelock])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_setBalance", [timelock, hex(10 * ETH)])  # type: ignore[arg-type]
    try:
        tx = call.build_transaction({"from": timelock})  # type: ignore[typeddict-item]
        tx_hash = w3.eth.send_transaction(tx)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return receipt
    finally:
        w3.provider.make_request("anvil_stopImpersonatingAccount", [timelock])  # type: ignore[arg-type]


def advance(w3: Web3, seconds: int = 0, blocks: int = 1) -> None:
    """Move time forward by ``seconds`` and mine ``blocks`` blocks."""
    if seconds:
        w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


def now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def events(contract: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    from web3.logs import DISCARD

    return [
        dict(e.args)
        for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)
    ]


MIN_STAKE = 1_000 * HELIO  # ChainParams().min_stake


def give_tokens(w3: Web3, token: Contract, who: DevAccount, amount: int) -> None:
    fund_eth(w3, who)
    send(w3, DEPLOYER, token.functions.transfer(who.address, amount))


def make_inferer(
    w3: Web3, c: dict[str, Contract], name: str, stake: int = MIN_STAKE, capacity: int = 10
) -> DevAccount:
    """A registered, staked inferer whose attestation key is its own key."""
    who = actor(name)
    give_tokens(w3, c["HelioToken"], who, stake + 10_000 * HELIO)
    staking = c["StakingRegistry"]
    send(
        w3,
        who,
        staking.functions.register(f"12D3KooW{name}", who.address, "Europe/Berlin", capacity),
    )
    send(w3, who, c["HelioToken"].functions.approve(staking.address, stake))
    send(w3, who, staking.functions.stake(stake))
    return who


def govern(
    w3: Web3, c: dict[str, Contract], voters: list[DevAccount], target: Contract, fn: str,
    args: list[Any], description: str,
) -> TxReceipt:  # fmt: skip
    """A real proposal through HelioGovernor + HelioTimelock, every voter For; the execute receipt."""
    from node.chain.params import ChainParams

    p = ChainParams()
    governor = c["HelioGovernor"]
    targets, values, calldatas = [target.address], [0], [target.encode_abi(fn, args)]
    advance(w3)  # the proposal threshold reads the proposer's votes of an earlier block
    receipt = send(
        w3, voters[0], governor.functions.propose(targets, values, calldatas, description)
    )
    pid = events(governor, receipt, "ProposalCreated")[0]["proposalId"]
    advance(w3, blocks=p.voting_delay_blocks + 1)
    for v in voters:
        send(w3, v, governor.functions.castVote(pid, 1))
    advance(w3, blocks=p.voting_period_blocks)
    desc = Web3.keccak(text=description)
    send(w3, voters[0], governor.functions.queue(targets, values, calldatas, desc))
    advance(w3, seconds=p.timelock_delay_s)
    return send(w3, voters[0], governor.functions.execute(targets, values, calldatas, desc))
