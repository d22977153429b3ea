"""Deploy the Heliomesh contracts and write deployments/<network>.json.

    python scripts/deploy.py --network local --rpc-url http://127.0.0.1:8545
    HELIO_RPC_URL=... HELIO_PRIVATE_KEY=... python scripts/deploy.py --network sepolia

The deploy is idempotent per network: a recorded deployment whose contracts are live on
the chain is reused (``--force`` redeploys). ``local`` starts nothing: it expects a running anvil and deploys from anvil's public dev
key 0 (refusing any chain id but 31337 unless --chain-id says otherwise). Any other
network takes its RPC URL and key from Settings (HELIO_RPC_URL / HELIO_PRIVATE_KEY).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import SecretStr

# Run as a plain script: make the project importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.chain.connect import connect  # noqa: E402
from node.chain.deploy import deploy_all  # noqa: E402
from node.chain.deployment import Deployment  # noqa: E402
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS  # noqa: E402
from node.chain.params import ChainParams, DemoModel  # noqa: E402
from node.core.errors import ConfigError, HeliomeshError  # noqa: E402
from node.core.paths import DEPLOYMENTS_DIR  # noqa: E402
from node.core.settings import Settings  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", required=True, help="'local' (anvil) or a testnet name")
    parser.add_argument("--rpc-url", help="JSON-RPC URL (default: HELIO_RPC_URL)")
    parser.add_argument("--chain-id", type=int, help="refuse any other chain id")
    parser.add_argument("--out-dir", type=Path, default=DEPLOYMENTS_DIR, help="%(default)s")
    parser.add_argument(
        "--manifest-cid",
        help="local: the demo model's manifest CID (default: "
        "the cached fp32 manifest's CID, else a placeholder)",
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
        params = ChainParams(demo_model=DemoModel(manifest_cid=args.manifest_cid))
        deployment = deploy_all(
            w3, key, args.network, directory=args.out_dir, params=params, force=args.force
        )
    except HeliomeshError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"deployed to chain {deployment.chain_id} at block {deployment.block_number}:")
    for name, contract in deployment.contracts.items():
        print(f"  {name:<20} {contract.address}")
    print(f"wrote {Deployment.path_for(args.network, args.out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
