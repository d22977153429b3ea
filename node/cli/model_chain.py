"""``helio model propose|vote``: ModelRegistry proposals and Governor votes."""

from __future__ import annotations

import typer
from rich.console import Console

from node.cli.stake import DevAccount, Network, RpcUrl, open_chain

console = Console()


def propose(
    model_id: str = typer.Argument(..., help="lowercase [a-z0-9-] id, e.g. smollm2-135m-instruct"),
    manifest_cid: str = typer.Option(
        ..., "--cid", help="IPFS CID of the model manifest (helio model publish)"
    ),
    license_: str = typer.Option(..., "--license", help="e.g. Apache-2.0"),
    family: str = typer.Option(..., "--family", help="model family, e.g. llama"),
    min_memory_mb: int = typer.Option(..., "--min-memory-mb"),
    energy_mj_per_token: int = typer.Option(..., "--energy-mj-per-token"),
    max_latency_ms: int = typer.Option(..., "--max-latency-ms"),
    royalty: str = typer.Option(None, "--royalty", help="royalty address (default: this key)"),
    evaluate: bool = typer.Option(
        True, "--evaluate/--no-evaluate", help="open evaluation right away"
    ),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Propose a model on chain (and open its evaluation)."""
    chain = open_chain(network, rpc_url, dev_account)
    me = chain.account.address  # type: ignore[union-attr]
    chain.models.propose(model_id, manifest_cid, license_, family, min_memory_mb=min_memory_mb,
                         energy_mj_per_token=energy_mj_per_token, max_latency_ms=max_latency_ms,
                         royalty_recipient=royalty or me)  # fmt: skip
    if evaluate:
        chain.models.start_evaluation(model_id)
    console.print(f"[green]proposed[/] {model_id}: {chain.models.status(model_id)}")


def vote(
    model_id: str = typer.Argument(..., help="the model whose adoption vote to join"),
    support: str = typer.Option("for", "--support", help="for, against or abstain"),
    reason: str = typer.Option("", "--reason"),
    open_vote: bool = typer.Option(False, "--open", help="as the creator: open the vote first"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Vote on a model's adoption with this inferer's stake-weighted power."""
    chain = open_chain(network, rpc_url, dev_account)
    if open_vote:
        chain.models.start_voting(model_id)
    proposal = chain.models.proposal_id(model_id)
    if proposal == 0:
        status = chain.models.status(model_id)
        console.print(
            f"[red]no vote open for {model_id}[/] (status: {status}); the creator opens it with --open"
        )
        raise typer.Exit(1)
    state = chain.governor.state(proposal)
    if state == "pending":
        start = chain.governor.c.functions.proposalSnapshot(proposal).call() + 1
        console.print(f"vote on {model_id} is open (proposal {proposal}); voting starts at block {start}")
        return
    chain.governor.vote(proposal, support, reason)
    votes = chain.governor.votes(proposal)
    console.print(
        f"[green]voted {support}[/] on {model_id}: {votes} ({chain.governor.state(proposal)})"
    )
