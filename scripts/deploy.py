"""Deploy the Heliomesh contracts and write deployments/<network>.json.

    python scripts/deploy.py --network local --rpc-url http://127.0.0.1:8545
    HELIO_RPC_URL=... HELIO_PRIVATE_KEY=... python scripts/deploy.py --network sepolia \
        --genesis-model <manifest CID> --referee 0x...

``--profile`` (default: ``local`` for the local network, else ``testnet``) sets the
unbonding delay, the governance timings and the Faucet (reserve, drip, rate limit); see
node/chain/profiles.py and docs/testnet.md. The script prints what it set up and what it
left for later; deployments/<network>.json records the same under ``setup``.

The deploy is idempotent per network: a recorded deployment whose contracts are live on
the chain is reused (``--force`` redeploys). ``local`` starts nothing: it expects a running anvil and deploys from anvil's public dev
key 0 (refusing any chain id but 31337 unless --chain-id says otherwise). Any other
network takes its RPC URL and key from Settings (HELIO_RPC_URL / HELIO_PRIVATE_KEY).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from pydantic import SecretStr

# Run as a plain script: make the project importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.chain.connect import connect  # noqa: E402
from node.chain.deploy import deploy_all  # noqa: E402
from node.chain.deployment import Deployment  # noqa: E402
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS  # noqa: E402
from node.chain.params import DemoModel  # noqa: E402
from node.chain.profiles import PROFILES, DeploySetup, profile_named  # noqa: E402
from node.core.errors import ConfigError, HeliomeshError  # noqa: E402
from node.core.paths import DEPLOYMENTS_DIR  # noqa: E402
from node.core.settings import Settings  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", required=True, help="'local' (anvil) or a testnet name")
    parser.add_argument("--rpc-url", help="JSON-RPC URL (default: HELIO_RPC_URL)")
    parser.add_argument("--chain-id", type=int, help="refuse any other chain id")
    parser.add_argument(
        "--out-dir", type=Path,
        # HELIO_DEPLOYMENTS_DIR: where every helio command looks for <network>.json
        default=Path(os.environ.get("HELIO_DEPLOYMENTS_DIR") or DEPLOYMENTS_DIR),
        help="where <network>.json goes (default: HELIO_DEPLOYMENTS_DIR or %(default)s)",
    )
    parser.add_argument(
        "--manifest-cid",
        help="local: the demo model's manifest CID (default: "
        "the cached fp32 manifest's CID, else a placeholder)",
    )
    parser.add_argument(
        "--profile", choices=sorted(PROFILES),
        help="delays, governance timings and Faucet (default: local for --network local, "
        "else testnet)",
    )
    parser.add_argument(
        "--genesis-model", metavar="CID",
        help="register and adopt this model manifest at deploy (no vote); without it a "
        "testnet has no model to serve until governance adopts one",
    )
    parser.add_argument(
        "--genesis-model-id", default=DemoModel.model_id,
        help="model id of --genesis-model (default: %(default)s)",
    )
    parser.add_argument(
        "--genesis-family", default=DemoModel.family, help="its family (default: %(default)s)"
    )
    parser.add_argument(
        "--genesis-license", default=DemoModel.license, help="its license (default: %(default)s)"
    )
    parser.add_argument(
        "--genesis-min-memory-mb", type=int, default=DemoModel.min_memory_mb,
        help="its declared memory need (default: %(default)s)",
    )
    parser.add_argument(
        "--referee", action="append", default=[], metavar="ADDRESS",
        help="gets VERIFIER_ROLE and REFEREE_ROLE (a gateway's referee key); repeat; "
        "default: the deployer",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="redeploy even if the recorded deployment is live on this chain",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        settings = Settings()
        rpc_url = args.rpc_url or settings.rpc_url
        if args.network == "local":
            key: str | SecretStr | None = DEV_ACCOUNTS[0].private_key
            chain_id = args.chain_id or settings.chain_id or ANVIL_CHAIN_ID
            if not rpc_url:
                raise ConfigError("--network local needs --rpc-url of a running anvil")
        else:
            key = settings.private_key
            chain_id = args.chain_id or settings.chain_id
            if not rpc_url or key is None:
                raise ConfigError(
                    f"--network {args.network} needs HELIO_RPC_URL (or --rpc-url) "
                    "and HELIO_PRIVATE_KEY"
                )
        w3 = connect(rpc_url, expected_chain_id=chain_id)
        assert key is not None
        profile = profile_named(args.profile or ("local" if args.network == "local" else "testnet"))
        params = profile.chain_params()
        if args.manifest_cid:
            params = replace(params, demo_model=DemoModel(manifest_cid=args.manifest_cid))
        genesis = None
        if args.genesis_model:
            genesis = DemoModel(
                model_id=args.genesis_model_id, manifest_cid=args.genesis_model,
                family=args.genesis_family, license=args.genesis_license,
                min_memory_mb=args.genesis_min_memory_mb,
            )
        deployment = deploy_all(
            w3, key, args.network, directory=args.out_dir, params=params, force=args.force,
            profile=profile, referees=tuple(args.referee), genesis=genesis,
        )
    except HeliomeshError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"deployed to chain {deployment.chain_id} at block {deployment.block_number}:")
    for name, contract in deployment.contracts.items():
        print(f"  {name:<20} {contract.address}")
    if deployment.setup is not None:
        print(describe_setup(deployment.setup))
    print(f"wrote {Deployment.path_for(args.network, args.out_dir)}")
    return 0


def describe_setup(setup: DeploySetup) -> str:
    """What the deploy did and did not, for the operator reading the terminal."""
    helio = 10**18
    f = setup.faucet
    lines = [
        f"profile {setup.profile}:",
        f"  did: unbonding delay {_duration(setup.unbonding_delay_s)}; timelock delay "
        f"{_duration(setup.timelock_delay_s)}; voting delay {setup.voting_delay_blocks} blocks, "
        f"voting period {setup.voting_period_blocks} blocks; minimum stake "
        f"{setup.min_stake / helio:g} HELIO",
        f"  did: Faucet holds {f.reserve / helio:,.0f} HELIO, gives {f.drip / helio:g} HELIO "
        f"per address every {_duration(f.cooldown_s)}, at most {f.window_cap} drips per "
        f"{_duration(f.window_s)}",
        f"  did: referee roles (VERIFIER_ROLE, REFEREE_ROLE) to {', '.join(setup.referees)}",
    ]
    if setup.guardian:
        lines.append(f"  did: proposal guardian (may cancel a proposal until it executes): {setup.guardian}")
    if setup.genesis_model is not None:
        g = setup.genesis_model
        lines.append(f"  did: registered and adopted {g.model_id} (manifest {g.manifest_cid})")
    if setup.dev_accounts_funded:
        lines.append("  did: funded anvil dev accounts 1..9")
    lines += [f"  did NOT: {item}" for item in setup.not_done]
    return "\n".join(lines)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


if __name__ == "__main__":
    sys.exit(main())
