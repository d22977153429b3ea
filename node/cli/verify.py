"""``helio verify claim|confirm|dispute|slash|status``: fraud claims on the Verification
contract (docs/verification.md).

    helio verify claim evidence.json --rpc-url ... --dev-account 5   # a referee's evidence file
    helio verify confirm 3 ...        # another verifier's guilty vote (a committee vote if disputed)
    helio verify dispute 3 ...        # the accused, during the challenge window
    helio verify slash 3 ...          # anyone, after the window with a quorum
    helio verify status --claim 3     # or --inferer 0x…: reputation, frozen, jailed

The signing key is HELIO_PRIVATE_KEY, or ``--dev-account N`` (anvil's public dev key N).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from node.cli.chain_access import open_chain
from node.cli.stake import DevAccount, Network, RpcUrl
from node.core.errors import ConfigError

app = typer.Typer(help="Fraud claims: submit, confirm, dispute, slash, inspect.", no_args_is_help=True)
console = Console()

EvidenceFile = typer.Argument(..., help="evidence JSON a referee wrote (claim-….json)")
ClaimId = typer.Argument(..., min=0, help="the claim id (from `helio verify status` or the claim's event)")


@app.command()
def claim(
    evidence: Path = EvidenceFile,
    network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount,
) -> None:
    """Submit a fraud claim: the accused's commitment and two agreeing independent ones."""
    from node.referee.audit import claim_commitments

    try:
        accused, commitment, conflicting = claim_commitments(json.loads(evidence.read_text()))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the evidence {evidence}: {exc}") from None
    chain = open_chain(network, rpc_url, dev_account)
    claim_id = chain.verification.submit_fraud_claim(accused, commitment, conflicting)
    console.print(f"[green]claim {claim_id}[/] filed against {accused}; stake frozen until it is settled")


@app.command()
def confirm(claim_id: int = ClaimId, network: str = Network, rpc_url: str = RpcUrl,
            dev_account: int = DevAccount) -> None:
    """Vote guilty (a confirmation while open; a committee vote while disputed)."""
    open_chain(network, rpc_url, dev_account).verification.confirm(claim_id)
    console.print(f"confirmed claim {claim_id}")


@app.command()
def dispute(claim_id: int = ClaimId, network: str = Network, rpc_url: str = RpcUrl,
            dev_account: int = DevAccount) -> None:
    """As the accused: escalate the claim to a larger committee (challenge window only)."""
    open_chain(network, rpc_url, dev_account).verification.dispute(claim_id)
    console.print(f"disputed claim {claim_id}: a committee re-executes; false accusers lose stake")


@app.command()
def slash(claim_id: int = ClaimId, network: str = Network, rpc_url: str = RpcUrl,
          dev_account: int = DevAccount) -> None:
    """Execute the slash of a confirmed claim whose challenge window has passed."""
    chain = open_chain(network, rpc_url, dev_account)
    chain.verification.execute_slash(claim_id)
    console.print(f"claim {claim_id}: {chain.verification.claim_status(claim_id)}")


@app.command()
def status(
    claim_id: int = typer.Option(None, "--claim", min=0, help="show one claim"),
    inferer: str = typer.Option(None, "--inferer", help="show an inferer's standing"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    network: str = Network, rpc_url: str = RpcUrl,
) -> None:
    """A claim's state, or an inferer's reputation, freeze and jail."""
    if claim_id is None and inferer is None:
        raise ConfigError("give --claim ID or --inferer ADDRESS")
    chain = open_chain(network, rpc_url, None, signing=False)
    out: dict[str, object] = {}
    if claim_id is not None:
        if not 0 <= claim_id < chain.verification.claim_count():
            raise ConfigError(f"no claim {claim_id}: {chain.verification.claim_count()} filed so far")
        record = chain.verification.claim(claim_id)
        out["claim"] = {"id": claim_id, "accused": record.accused, "reporter": record.reporter,
                        "status": record.status, "confirmations": record.confirmations,
                        "rejections": record.rejections, "deadline": record.deadline,
                        "frozen_stake": str(record.frozen_stake)}
    if inferer is not None:
        passed, failed = chain.verification.reputation_total(inferer)
        out["inferer"] = {"address": inferer, "passed": passed, "failed": failed,
                          "frozen": chain.staking.is_frozen(inferer),
                          "jailed": chain.staking.is_jailed(inferer),
                          "active": chain.staking.is_active(inferer)}
    if as_json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            console.print(f"[bold]{key}[/]: {value}")
