"""Contract bindings: local chains, compiled artifacts, connections and deployments.

web3.py talks to chains at run time; ape is only the compiler (``make compile``).

- ``anvil``      ``Anvil``: a local anvil on a free loopback port (context manager)
- ``devkeys``    ``DEV_ACCOUNTS``: anvil's PUBLIC dev accounts and keys (never real funds)
- ``artifacts``  ``load_artifact``: abi + bytecode from ``.build/__local__.json``;
                 ``ContractArtifact.decode_error`` names a custom-error revert;
                 ``ensure_compiled`` runs ``ape compile`` when the build is missing/stale
- ``connect``    ``connect`` (a ``Web3`` that answered, on the expected chain id),
                 ``local_account``, ``transact`` (sign locally, send, wait)
- ``deployment`` ``Deployment``: ``deployments/<network>.json`` (addresses, chain id, first block)
- ``deploy``     ``deploy_all`` deploys ``CONTRACTS`` in order (idempotent per network), then ``wire``s them
- ``params``     ``ChainParams`` (constructor arguments, local funding, referees), ``DemoModel``
- ``profiles``   deploy profiles (local, testnet: delays, Faucet plan) and ``DeploySetup``, the
                 record of what a deploy did and did not
- ``faucet``     ``Faucet``: the testnet faucet contract (drip, cooldown, hourly cap)
- ``wiring``     roles between the contracts, the local demo model, admin handed to the Timelock
- ``base``       ``ContractClient`` (decoded reverts as ``ContractRevert``)
- ``bindings``   ``HelioChain``: typed wrappers per contract (``Token``, ``Staking``,
                 ``Energy``, ``Models``, ``Governor``, ``Payments``, ``Verification``)
- ``merkle``     ``RewardTree``: epoch reward roots and proofs for ``Payments.claim``
"""

from node.chain.anvil import Anvil
from node.chain.artifacts import ContractArtifact, ensure_compiled, load_artifact
from node.chain.connect import check_chain_id, connect, local_account, transact
from node.chain.deploy import CONTRACTS, INITIAL_SUPPLY, ContractSpec, deploy_all
from node.chain.deployment import DeployedContract, Deployment
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS, DevAccount
from node.chain.params import ChainParams, DemoModel

__all__ = [
    "ANVIL_CHAIN_ID",
    "CONTRACTS",
    "ChainParams",
    "DemoModel",
    "DEV_ACCOUNTS",
    "INITIAL_SUPPLY",
    "Anvil",
    "ContractArtifact",
    "ContractSpec",
    "DeployedContract",
    "Deployment",
    "DevAccount",
    "check_chain_id",
    "connect",
    "deploy_all",
    "ensure_compiled",
    "load_artifact",
    "local_account",
    "transact",
]
