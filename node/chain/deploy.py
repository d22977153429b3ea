"""Deploy every contract in order and record where they went in ``deployments/<network>.json``.

Adding a contract means adding one ``ContractSpec`` to ``CONTRACTS``; its constructor
arguments are computed from what was deployed before it (``ctx.address("HelioToken")``).
A deploy profile (``node/chain/profiles.py``) sets the delays and the Faucet; after the
contracts are in, ``deploy_all`` funds the Faucet, adopts the genesis model when asked,
wires the roles and records all of it (``Deployment.setup``), including what it did not do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from pydantic import (
    SecretStr,
)
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from node.chain.artifacts import load_artifact
from node.chain.connect import local_account, transact
from node.chain.deployment import NETWORK_NAME_RE, DeployedContract, Deployment
from node.chain.devkeys import refuse_dev_address
from node.chain.params import ChainParams, DemoModel
from node.chain.profiles import (
    PROFILES,
    DeployProfile,
    DeploySetup,
    FaucetPlan,
    FaucetRecord,
    GenesisRecord,
)
from node.chain.reverts import decode_revert, describe_revert
from node.chain.wiring import _adopt_demo_model, demo_manifest_cid, wire
from node.core.errors import ChainError, ConfigError
from node.core.paths import DEPLOYMENTS_DIR

HELIO_DECIMALS = 18
INITIAL_SUPPLY = 1_000_000_000 * 10**HELIO_DECIMALS  # 1e9 HELIO, all to the deployer
ZERO_ADDRESS = "0x" + "00" * 20
LOCAL_CHAIN_ID = 31337  # anvil; the token refuses a faucet anywhere else
FAUCET_RESERVE = 10_000_000 * 10**HELIO_DECIMALS  # minted to the token itself, local only
FAUCET_DRIP = 10_000 * 10**HELIO_DECIMALS  # per call, per address per hour
@dataclass
class DeployContext:
    """What a constructor-argument function may use: the deployer and earlier contracts."""

    deployer: str
    initial_supply: int
    chain_id: int = 0
    params: ChainParams = field(default_factory=ChainParams)
    faucet: FaucetPlan = PROFILES["local"].faucet
    deployed: dict[str, DeployedContract] = field(default_factory=dict)

    def address(self, name: str) -> str:
        return self.deployed[name].address


@dataclass(frozen=True)
class ContractSpec:
    name: str  # contract type name in the build file
    args: Callable[[DeployContext], tuple[Any, ...]]


def _faucet(chain_id: int) -> tuple[int, int]:
    """(reserve, drip) of the token's faucet: only on the local chain, else none."""
    return (FAUCET_RESERVE, FAUCET_DRIP) if chain_id == LOCAL_CHAIN_ID else (0, 0)


# Deployed in this order; a later entry may use the addresses of earlier ones. Admin
# roles start with the deployer and move to the Timelock in node/chain/wiring.py.
CONTRACTS: tuple[ContractSpec, ...] = (
    ContractSpec(
        "HelioToken",
        lambda ctx: (ctx.deployer, ctx.initial_supply, *_faucet(ctx.chain_id)),
    ),
    ContractSpec(
        "Faucet",
        lambda ctx: (
            ctx.address("HelioToken"), ctx.faucet.drip, ctx.faucet.cooldown_s,
            ctx.faucet.window_cap, ctx.faucet.window_s,
        ),
    ),
    ContractSpec(
        "StakingRegistry",
        lambda ctx: (
            ctx.address("HelioToken"), ctx.deployer, ctx.params.min_stake,
            ctx.params.unbonding_delay_s, ctx.params.capacity_weight_bps,
            ctx.params.capacity_reference,
        ),
    ),
    # Proposers are set in wiring (the Governor); executors: anyone (the zero address).
    ContractSpec(
        "HelioTimelock",
        lambda ctx: (ctx.params.timelock_delay_s, [], [ZERO_ADDRESS], ctx.deployer),
    ),
    ContractSpec(
        "HelioGovernor",
        lambda ctx: (
            ctx.address("StakingRegistry"), ctx.address("HelioTimelock"),
            ctx.params.voting_delay_blocks, ctx.params.voting_period_blocks,
            ctx.params.quorum_percent, ctx.params.supermajority_bps,
            ctx.params.proposal_threshold, ctx.params.guardian or ctx.deployer,
        ),
    ),
    ContractSpec(
        "ModelRegistry",
        lambda ctx: (
            ctx.address("StakingRegistry"), ctx.address("HelioGovernor"), ctx.deployer,
            ctx.params.min_benchmarks, ctx.params.evaluation_period_s,
        ),
    ),
    ContractSpec(
        "EnergyAttestations",
        lambda ctx: (
            ctx.address("StakingRegistry"), ctx.params.energy_max_age_s,
            ctx.params.energy_max_future_skew_s,
        ),
    ),
    ContractSpec(
        "Payments",
        lambda ctx: (
            ctx.address("HelioToken"), ctx.address("ModelRegistry"),
            ctx.address("StakingRegistry"), ctx.address("HelioTimelock"), ctx.deployer,
        ),
    ),
    ContractSpec(
        "Verification",
        lambda ctx: (
            ctx.address("HelioToken"), ctx.address("StakingRegistry"),
            ctx.address("HelioTimelock"), ctx.deployer, ctx.params.verification_epoch_s,
            ctx.params.verification_parameters(),
        ),
    ),
)  # fmt: skip


def _deploy_one(
    w3: Web3, account: LocalAccount, spec: ContractSpec, ctx: DeployContext
) -> DeployedContract:
    artifact = load_artifact(spec.name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    try:
        receipt = transact(w3, account, factory.constructor(*spec.args(ctx)))
    except ContractCustomError as e:
        name, args = decode_revert(str(e.data), spec.name)
        raise ChainError(describe_revert(f"deploying {spec.name}", name, args)) from None
    except ContractLogicError as e:
        raise ChainError(f"deploying {spec.name} reverted: {e.message}") from None
    address = receipt["contractAddress"]
    if address is None:
        raise ChainError(f"deploying {spec.name} returned no contract address")
    return DeployedContract(
        address=address,
        block_number=receipt["blockNumber"],
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
    )


def reusable_deployment(w3: Web3, network: str, directory: Path) -> Deployment | None:
    """The recorded deployment if it is complete and live on ``w3``'s chain, else None."""
    try:
        existing = Deployment.load(network, directory)
        if set(existing.contracts) != {spec.name for spec in CONTRACTS}:
            return None  # an older suite: deploy the current one
        existing.check_against(w3)
    except ChainError:
        return None  # missing, invalid, other chain, or the chain was restarted
    return existing


def deploy_all(
    w3: Web3,
    deployer_key: str | SecretStr,
    network: str,
    *,
    directory: Path = DEPLOYMENTS_DIR,
    initial_supply: int = INITIAL_SUPPLY,
    params: ChainParams | None = None,
    force: bool = False,
    profile: DeployProfile = PROFILES["local"],
    referees: tuple[str, ...] = (),
    genesis: DemoModel | None = None,
) -> Deployment:
    """Deploy ``CONTRACTS`` in order from ``deployer_key``, wire roles, write the record.

    Idempotent per network: a complete deployment recorded in ``directory`` whose
    contracts still have code on this chain is returned as is (``force`` redeploys).
    ``params`` default to the profile's; ``referees`` (default: the deployer) get the
    referee roles; ``genesis`` is registered and adopted at once (no vote). On the local
    chain (31337) wiring also funds the dev accounts and always adopts a model
    (``genesis`` or ``params.demo_model``).
    """

    if not NETWORK_NAME_RE.match(network):
        raise ConfigError(f"network name {network!r} must match {NETWORK_NAME_RE.pattern}")
    account = local_account(deployer_key)
    refuse_dev_address(account.address, w3.eth.chain_id, "the deployer key")
    if not force and (existing := reusable_deployment(w3, network, directory)) is not None:
        return existing
    params = params or profile.chain_params()
    params = replace(params, referees=tuple(referees or params.referees or (account.address,)))
    if genesis is not None:
        params = replace(params, demo_model=genesis)
    ctx = DeployContext(
        deployer=account.address,
        initial_supply=initial_supply,
        chain_id=w3.eth.chain_id,
        params=params,
        faucet=profile.faucet,
    )
    for spec in CONTRACTS:
        ctx.deployed[spec.name] = _deploy_one(w3, account, spec, ctx)
    deployment = Deployment(
        network=network,
        chain_id=ctx.chain_id,
        deployer=account.address,
        block_number=min(c.block_number for c in ctx.deployed.values()),
        deployed_at=datetime.now(UTC),
        contracts=dict(ctx.deployed),
    )
    local = ctx.chain_id == LOCAL_CHAIN_ID
    _fund_faucet(w3, account, deployment, profile.faucet.reserve)
    if genesis is not None and not local:  # wire() adopts on the local chain itself
        _adopt_demo_model(w3, account, deployment.contract(w3, "ModelRegistry"), genesis)
    wire(w3, account, deployment, params)
    adopted = genesis or (params.demo_model if local else None)
    setup = _setup_record(profile, params, local, adopted, account.address)
    deployment = deployment.model_copy(update={"setup": setup})
    deployment.save(directory)  # only after every contract is in and wired
    return deployment


def _fund_faucet(w3: Web3, account: LocalAccount, deployment: Deployment, reserve: int) -> None:
    if reserve == 0:
        return
    token = deployment.contract(w3, "HelioToken")
    try:
        transact(w3, account, token.functions.transfer(deployment.address("Faucet"), reserve))
    except ContractCustomError as e:
        name, args = decode_revert(str(e.data), "HelioToken")
        raise ChainError(describe_revert("funding the Faucet", name, args)) from None


def _setup_record(
    profile: DeployProfile, params: ChainParams, local: bool, genesis: DemoModel | None,
    deployer: str,
) -> DeploySetup:
    plan = profile.faucet
    not_done = []
    if genesis is None:
        not_done.append(
            "no model adopted: inferers can stake, but a gateway has nothing to serve "
            "(404 'available: none') until a governance round adopts one; redeploy with "
            "--genesis-model CID to adopt one at deploy"
        )
    if not local:
        not_done.append("dev accounts not funded (not the local chain): operators draw "
                        "HELIO from the Faucet (`helio wallet faucet`)")
    return DeploySetup(
        profile=profile.name,
        unbonding_delay_s=params.unbonding_delay_s,
        timelock_delay_s=params.timelock_delay_s,
        voting_delay_blocks=params.voting_delay_blocks,
        voting_period_blocks=params.voting_period_blocks,
        min_stake=params.min_stake,
        faucet=FaucetRecord(reserve=plan.reserve, drip=plan.drip, cooldown_s=plan.cooldown_s,
                            window_cap=plan.window_cap, window_s=plan.window_s),
        referees=list(params.referees),
        guardian=params.guardian or deployer,
        genesis_model=(GenesisRecord(model_id=genesis.model_id,
                                     manifest_cid=demo_manifest_cid(genesis))
                       if genesis else None),
        dev_accounts_funded=local and params.dev_funding > 0,
        not_done=not_done,
    )
