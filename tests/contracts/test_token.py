"""HelioToken on a real anvil: supply, transfers, the constructor's custom error, the mint
event, and EIP-2612 permits signed in Python exactly as a wallet would."""

from __future__ import annotations

from typing import Any

import pytest
from chainkit import actor, fund_eth
from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.chain.artifacts import ContractArtifact
from node.chain.connect import local_account, transact
from node.chain.deploy import FAUCET_DRIP, FAUCET_RESERVE, INITIAL_SUPPLY
from node.chain.deployment import Deployment
from node.chain.devkeys import DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.chain.profiles import PROFILES

pytestmark = pytest.mark.chain

ZERO_ADDRESS = "0x" + "00" * 20
DEPLOYER = DEV_ACCOUNTS[0]
ALICE, BOB, CAROL = actor("alice"), actor("bob"), actor("carol")
PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


@pytest.fixture(autouse=True)
def _actors_have_eth(w3: Web3) -> None:
    fund_eth(w3, ALICE, BOB, CAROL)


def revert_of(
    excinfo: pytest.ExceptionInfo[ContractCustomError], artifact: ContractArtifact
) -> tuple[str, tuple[Any, ...]]:
    return artifact.decode_error(str(excinfo.value.data))


def sign_permit(
    w3: Web3,
    token: Contract,
    signer_key: str,
    *,
    owner: str,
    spender: str,
    value: int,
    deadline: int,
) -> tuple[int, bytes, bytes]:
    # The domain comes from the contract itself (ERC-5267), so a name/version drift
    # between Solidity and Python shows up here as a failed permit.
    _, name, version, chain_id, verifying_contract, _, _ = token.functions.eip712Domain().call()
    assert (name, version, chain_id) == ("Heliomesh", "1", w3.eth.chain_id)
    domain = {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": verifying_contract,
    }
    message = {
        "owner": owner,
        "spender": spender,
        "value": value,
        "nonce": token.functions.nonces(owner).call(),
        "deadline": deadline,
    }
    signed = Account.sign_typed_data(signer_key, domain, PERMIT_TYPES, message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def later(w3: Web3, seconds: int = 3600) -> int:
    return int(w3.eth.get_block("latest")["timestamp"]) + seconds


def test_supply_goes_to_the_holder(token: Contract) -> None:
    assert token.functions.name().call() == "Heliomesh"
    assert token.functions.symbol().call() == "HELIO"
    assert token.functions.decimals().call() == 18
    assert INITIAL_SUPPLY == 10**9 * 10**18
    assert token.functions.totalSupply().call() == INITIAL_SUPPLY + FAUCET_RESERVE  # local chain
    assert token.functions.balanceOf(token.address).call() == FAUCET_RESERVE
    # The local deployment funds anvil dev accounts 1..9 and the Faucet from the deployer.
    funding, faucet = ChainParams().dev_funding, PROFILES["local"].faucet.reserve
    assert token.functions.balanceOf(DEPLOYER.address).call() == INITIAL_SUPPLY - 9 * funding - faucet
    assert token.functions.balanceOf(DEV_ACCOUNTS[1].address).call() == funding
    assert token.functions.balanceOf(ALICE.address).call() == 0


def test_transfer_moves_balance_and_emits(w3: Web3, token: Contract) -> None:
    amount = 1234 * 10**18
    before = token.functions.balanceOf(DEPLOYER.address).call()
    receipt = transact(
        w3, local_account(DEPLOYER.private_key), token.functions.transfer(ALICE.address, amount)
    )
    assert token.functions.balanceOf(ALICE.address).call() == amount
    assert token.functions.balanceOf(DEPLOYER.address).call() == before - amount
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert event.args == {"from": DEPLOYER.address, "to": ALICE.address, "value": amount}


def test_transfer_beyond_balance_reverts(
    w3: Web3, token: Contract, token_artifact: ContractArtifact
) -> None:
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, local_account(ALICE.private_key), token.functions.transfer(BOB.address, 1))
    assert revert_of(excinfo, token_artifact) == (
        "ERC20InsufficientBalance",
        (ALICE.address, 0, 1),
    )


@pytest.mark.parametrize(
    ("holder", "supply"), [(ZERO_ADDRESS, INITIAL_SUPPLY), (DEV_ACCOUNTS[1].address, 0)]
)
def test_constructor_rejects_bad_initial_mint(
    w3: Web3, token_artifact: ContractArtifact, holder: str, supply: int
) -> None:
    factory = w3.eth.contract(abi=token_artifact.abi, bytecode=token_artifact.bytecode)
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, local_account(DEPLOYER.private_key), factory.constructor(holder, supply, 0, 0))
    selector = Web3.keccak(text="HelioTokenInvalidInitialMint(address,uint256)")[:4]
    assert str(excinfo.value.data)[:10] == "0x" + selector.hex()
    assert revert_of(excinfo, token_artifact) == (
        "HelioTokenInvalidInitialMint",
        (Web3.to_checksum_address(holder), supply),
    )


def test_deployment_emits_minted_event(w3: Web3, token: Contract, deployment: Deployment) -> None:
    receipt = w3.eth.get_transaction_receipt(deployment.contracts["HelioToken"].tx_hash)  # type: ignore[arg-type]
    minted, reserve = token.events.HelioTokenMinted().process_receipt(receipt, errors=DISCARD)
    assert minted.args == {"holder": DEPLOYER.address, "amount": INITIAL_SUPPLY}
    assert reserve.args == {"holder": token.address, "amount": FAUCET_RESERVE}
    assert minted.address == token.address
    transfers = token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [t.args["from"] for t in transfers] == [ZERO_ADDRESS, ZERO_ADDRESS]


def test_permit_then_transfer_from(w3: Web3, token: Contract) -> None:
    # DEPLOYER signs off-chain; CAROL relays the permit (pays gas); ALICE spends.
    value, deadline = 500 * 10**18, later(w3)
    v, r, s = sign_permit(
        w3,
        token,
        DEPLOYER.private_key,
        owner=DEPLOYER.address,
        spender=ALICE.address,
        value=value,
        deadline=deadline,
    )
    permit = token.functions.permit(DEPLOYER.address, ALICE.address, value, deadline, v, r, s)
    receipt = transact(w3, local_account(CAROL.private_key), permit)
    (approval,) = token.events.Approval().process_receipt(receipt)
    assert approval.args == {"owner": DEPLOYER.address, "spender": ALICE.address, "value": value}
    assert token.functions.allowance(DEPLOYER.address, ALICE.address).call() == value
    assert token.functions.nonces(DEPLOYER.address).call() == 1

    spend = token.functions.transferFrom(DEPLOYER.address, BOB.address, value)
    transact(w3, local_account(ALICE.private_key), spend)
    assert token.functions.balanceOf(BOB.address).call() == value
    assert token.functions.allowance(DEPLOYER.address, ALICE.address).call() == 0


@pytest.mark.parametrize("tamper", ["wrong signer", "different value"])
def test_permit_with_bad_signature_reverts(
    w3: Web3, token: Contract, token_artifact: ContractArtifact, tamper: str
) -> None:
    value, deadline = 10**18, later(w3)
    signer = BOB if tamper == "wrong signer" else DEPLOYER
    v, r, s = sign_permit(
        w3,
        token,
        signer.private_key,
        owner=DEPLOYER.address,
        spender=ALICE.address,
        value=value,
        deadline=deadline,
    )
    submitted = value + 1 if tamper == "different value" else value
    permit = token.functions.permit(DEPLOYER.address, ALICE.address, submitted, deadline, v, r, s)
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, local_account(CAROL.private_key), permit)
    name, (recovered, owner) = revert_of(excinfo, token_artifact)
    assert (name, owner) == ("ERC2612InvalidSigner", DEPLOYER.address)
    assert recovered != DEPLOYER.address
    if tamper == "wrong signer":
        assert recovered == BOB.address
    assert token.functions.allowance(DEPLOYER.address, ALICE.address).call() == 0


def test_expired_permit_reverts(
    w3: Web3, token: Contract, token_artifact: ContractArtifact
) -> None:
    deadline = later(w3, seconds=-1)
    v, r, s = sign_permit(
        w3,
        token,
        DEPLOYER.private_key,
        owner=DEPLOYER.address,
        spender=ALICE.address,
        value=1,
        deadline=deadline,
    )
    permit = token.functions.permit(DEPLOYER.address, ALICE.address, 1, deadline, v, r, s)
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, local_account(CAROL.private_key), permit)
    assert revert_of(excinfo, token_artifact) == ("ERC2612ExpiredSignature", (deadline,))


# --- local faucet and burn ---------------------------------------------------------


def test_faucet_drips_once_per_cooldown(
    w3: Web3, token: Contract, token_artifact: ContractArtifact
) -> None:
    assert token.functions.faucetDrip().call() == FAUCET_DRIP
    carol = local_account(CAROL.private_key)
    receipt = transact(w3, carol, token.functions.faucet(ALICE.address))
    (event,) = token.events.HelioTokenFaucetDripped().process_receipt(receipt, errors=DISCARD)
    assert event.args == {"to": ALICE.address, "amount": FAUCET_DRIP}
    assert token.functions.balanceOf(ALICE.address).call() == FAUCET_DRIP
    ready_at = w3.eth.get_block("latest")["timestamp"] + 3600
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, carol, token.functions.faucet(ALICE.address))
    assert revert_of(excinfo, token_artifact) == (
        "HelioTokenFaucetCooldown",
        (ALICE.address, ready_at),
    )
    w3.provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    transact(w3, carol, token.functions.faucet(ALICE.address))
    assert token.functions.balanceOf(ALICE.address).call() == 2 * FAUCET_DRIP


def test_faucet_disabled_and_empty(w3: Web3, token_artifact: ContractArtifact) -> None:
    factory = w3.eth.contract(abi=token_artifact.abi, bytecode=token_artifact.bytecode)
    deployer = local_account(DEPLOYER.private_key)
    no_faucet = w3.eth.contract(
        address=transact(w3, deployer, factory.constructor(ALICE.address, 10, 0, 0))[
            "contractAddress"
        ],
        abi=token_artifact.abi,
    )
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, deployer, no_faucet.functions.faucet(BOB.address))
    assert revert_of(excinfo, token_artifact) == ("HelioTokenFaucetDisabled", ())
    small = w3.eth.contract(
        address=transact(w3, deployer, factory.constructor(ALICE.address, 10, 5, 3))[
            "contractAddress"
        ],
        abi=token_artifact.abi,
    )
    transact(w3, deployer, small.functions.faucet(BOB.address))
    with pytest.raises(ContractCustomError) as excinfo:
        transact(w3, deployer, small.functions.faucet(CAROL.address))
    assert revert_of(excinfo, token_artifact) == ("HelioTokenFaucetEmpty", (2, 3))


def test_faucet_refused_off_the_local_chain(token_artifact: ContractArtifact) -> None:
    from node.chain.anvil import Anvil
    from node.chain.connect import connect

    with Anvil(chain_id=4242) as other:
        w3 = connect(other.rpc_url, expected_chain_id=4242)
        factory = w3.eth.contract(abi=token_artifact.abi, bytecode=token_artifact.bytecode)
        with pytest.raises(ContractCustomError) as excinfo:
            transact(
                w3,
                local_account(DEPLOYER.private_key),
                factory.constructor(ALICE.address, 10, 5, 1),
            )
        assert revert_of(excinfo, token_artifact) == ("HelioTokenFaucetNotLocal", (4242,))


def test_burn_reduces_supply(w3: Web3, token: Contract) -> None:
    supply = token.functions.totalSupply().call()
    receipt = transact(w3, local_account(DEPLOYER.private_key), token.functions.burn(10**18))
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert event.args == {"from": DEPLOYER.address, "to": ZERO_ADDRESS, "value": 10**18}
    assert token.functions.totalSupply().call() == supply - 10**18
