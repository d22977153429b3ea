"""After the contracts are deployed: roles between them, then hand admin to the Timelock.

Order (every step one transaction from the deployer):
1. Timelock: the Governor may propose and cancel (anyone may execute).
2. StakingRegistry: SLASHER_ROLE to Verification (the only slasher).
3. Referees (``params.referees``; by default the deployer, on every chain: a testnet's
   epochs pay from day one): VERIFIER_ROLE in Verification, REFEREE_ROLE in Payments;
   Payments' epoch rules (``params.epoch_quorum`` referee signatures per root, claims open
   ``params.epoch_challenge_delay_s`` after the post); the Governor learns the
   ModelRegistry (its adoption votes skip the proposal threshold).
4. Local chain only: fund anvil dev accounts 1..9, register and adopt the demo model
   (the deployer holds GOVERNANCE_ROLE until step 5, so no vote is needed at genesis).
5. DEFAULT_ADMIN_ROLE (and GOVERNANCE_ROLE) to the Timelock in every contract, then the
   deployer renounces its own: from here on only governance changes parameters.
"""

from __future__ import annotations

import logging
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from node.chain.connect import Transactable, transact
from node.chain.deployment import Deployment
from node.chain.devkeys import DEV_ACCOUNTS
from node.chain.params import ChainParams, DemoModel
from node.chain.reverts import decode_revert, describe_revert
from node.core.cid import cid_of_bytes, cid_of_file
from node.core.errors import ChainError

log = logging.getLogger(__name__)

LOCAL_CHAIN_ID = 31337
DEFAULT_ADMIN_ROLE = b"\x00" * 32
ADMIN_CONTRACTS = ("StakingRegistry", "ModelRegistry", "Payments", "Verification")


def send(
    w3: Web3, account: LocalAccount, contract: Contract, call: Transactable, what: str
) -> None:
    """``transact`` with the contract's custom error decoded into the ``ChainError``."""
    try:
        transact(w3, account, call)
    except ContractCustomError as e:
        name, args = decode_revert(str(e.data), _name_of(contract))
        raise ChainError(describe_revert(what, name, args)) from None
    except ContractLogicError as e:
        raise ChainError(f"{what} reverted: {e.message}") from None


def _name_of(contract: Contract) -> str:
    return getattr(contract, "_helio_name", "HelioToken")


def _handle(w3: Web3, deployment: Deployment, name: str) -> Contract:
    contract = deployment.contract(w3, name)
    contract._helio_name = name  # type: ignore[attr-defined]  # for error decoding
    return contract


def demo_manifest_cid(demo: DemoModel, cache_dir: Path | None = None) -> str:
    """The CID to register: the given one, the cached fp32 manifest's, or a placeholder."""
    if demo.manifest_cid:
        return demo.manifest_cid
    from node.core.settings import Settings

    root = cache_dir or Settings().cache_dir
    manifest = root / "models" / demo.model_id / "float32" / "manifest.json"
    if manifest.is_file():
        return cid_of_file(manifest)
    log.warning(
        "no converted %s manifest at %s: registering a placeholder CID; pass the real one "
        "(DemoModel.manifest_cid) once the manifest is published",
        demo.model_id, manifest,
    )  # fmt: skip
    return cid_of_bytes(f"heliomesh placeholder manifest for {demo.model_id}\n".encode())


def wire(w3: Web3, account: LocalAccount, deployment: Deployment, params: ChainParams) -> None:
    """Run the steps in the module docstring; ``ChainError`` names a step that reverted."""
    c = {name: _handle(w3, deployment, name) for name in deployment.contracts}
    timelock, governor = c["HelioTimelock"], c["HelioGovernor"]
    local = deployment.chain_id == LOCAL_CHAIN_ID

    for role in ("PROPOSER_ROLE", "CANCELLER_ROLE"):
        role_id = getattr(timelock.functions, role)().call()
        send(w3, account, timelock, timelock.functions.grantRole(role_id, governor.address),
             f"granting {role} to the Governor")  # fmt: skip
    staking, verification, payments = c["StakingRegistry"], c["Verification"], c["Payments"]
    slasher = staking.functions.SLASHER_ROLE().call()
    send(w3, account, staking, staking.functions.grantRole(slasher, verification.address),
         "granting SLASHER_ROLE to Verification")  # fmt: skip

    referees = params.referees or (account.address,)
    verifier_role = verification.functions.VERIFIER_ROLE().call()
    referee_role = payments.functions.REFEREE_ROLE().call()
    for referee in referees:
        send(w3, account, verification, verification.functions.grantRole(verifier_role, referee),
             f"granting VERIFIER_ROLE to {referee}")  # fmt: skip
        send(w3, account, payments, payments.functions.grantRole(referee_role, referee),
             f"granting REFEREE_ROLE to {referee}")  # fmt: skip
    rules = payments.functions.setEpochRules(params.epoch_quorum, params.epoch_challenge_delay_s)
    send(w3, account, payments, rules, "setting the epoch rules of Payments")
    send(w3, account, governor, governor.functions.setModelRegistry(c["ModelRegistry"].address),
         "telling the Governor the ModelRegistry")  # fmt: skip

    if local:
        _fund_dev_accounts(w3, account, c["HelioToken"], params.dev_funding)
        _adopt_demo_model(w3, account, c["ModelRegistry"], params.demo_model)

    _hand_over(w3, account, c, timelock.address)


def _fund_dev_accounts(w3: Web3, account: LocalAccount, token: Contract, amount: int) -> None:
    if amount == 0:
        return
    for dev in DEV_ACCOUNTS[1:10]:
        send(w3, account, token, token.functions.transfer(dev.address, amount),
             f"funding dev account {dev.address}")  # fmt: skip


def _adopt_demo_model(w3: Web3, account: LocalAccount, models: Contract, demo: DemoModel) -> None:
    cid = demo_manifest_cid(demo)
    requirements = (demo.min_memory_mb, demo.energy_mj_per_token, demo.max_latency_ms)
    propose = models.functions.propose(
        demo.model_id, cid, demo.license, demo.family, requirements, account.address
    )
    send(w3, account, models, propose, f"proposing the demo model {demo.model_id}")
    key = models.functions.keyOf(demo.model_id).call()
    send(w3, account, models, models.functions.adopt(key), f"adopting {demo.model_id}")
    log.info("adopted demo model %s (manifest %s)", demo.model_id, cid)


def _hand_over(w3: Web3, account: LocalAccount, c: dict[str, Contract], timelock: str) -> None:
    models = c["ModelRegistry"]
    governance_role = models.functions.GOVERNANCE_ROLE().call()
    send(w3, account, models, models.functions.grantRole(governance_role, timelock),
         "granting GOVERNANCE_ROLE to the Timelock")  # fmt: skip
    send(w3, account, models, models.functions.renounceRole(governance_role, account.address),
         "renouncing the deployer's GOVERNANCE_ROLE")  # fmt: skip
    for name in ADMIN_CONTRACTS:
        contract = c[name]
        send(w3, account, contract, contract.functions.grantRole(DEFAULT_ADMIN_ROLE, timelock),
             f"making the Timelock admin of {name}")  # fmt: skip
    for name in (*ADMIN_CONTRACTS, "HelioTimelock"):
        contract = c[name]
        send(w3, account, contract,
             contract.functions.renounceRole(DEFAULT_ADMIN_ROLE, account.address),
             f"renouncing the deployer's admin role in {name}")  # fmt: skip
