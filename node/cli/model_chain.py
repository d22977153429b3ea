"""``helio model propose|evaluate|vote``: ModelRegistry proposals, the benchmarks
inferers post while a model is evaluated, and Governor votes.

The lifecycle: the creator proposes (``propose``, which opens the evaluation); staked
inferers run the model and post what they measured (``evaluate``); once enough
benchmarks are in, the creator opens the vote and stakers vote (``vote``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from node.cli.stake import DevAccount, Network, RpcUrl, open_chain
from node.core.errors import ConfigError

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


EvalModelDir = typer.Option(None, "--model-dir", help="the converted model, if you have it; its "
                            "manifest must be the proposed one")
EvalPeers = typer.Option(None, "--peer", help="IPFS multiaddr …/p2p/<id> that has the model "
                         "(repeatable); without --model-dir the model is fetched by its on-chain CID")


def evaluate(
    model_id: str = typer.Argument(..., help="a model in evaluation (see its status with `helio model vote`)"),
    model_dir: Path | None = EvalModelDir,
    peers: list[str] | None = EvalPeers,
    watts: float = typer.Option(300.0, "--watts", help="this machine's power draw while serving (W)"),
    decode_tokens: int = typer.Option(32, "--decode-tokens", help="tokens to time the decode on"),
    quality_tokens: int = typer.Option(512, "--quality-tokens", help="tokens of English text to score"),
    threads: int | None = typer.Option(None, "--threads", help="torch threads (default: torch's)"),
    post: bool = typer.Option(True, "--post/--dry-run", help="post the benchmark on chain, or only print it"),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as one JSON object"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Benchmark a proposed model on this machine and post the result (staked inferers).

    Measures decode tokens/s, next-token accuracy and perplexity on real English text,
    and energy per token from --watts; posts them to ModelRegistry.postBenchmark."""
    from node.bench.evaluate import evaluate_model

    chain = open_chain(network, rpc_url, dev_account)
    info = chain.models.model(model_id)
    if info["status"] != "evaluating":
        raise ConfigError(f"{model_id} is {info['status']!r} on chain; benchmarks are posted "
                          "only while a model is being evaluated")
    directory = _proposed_model_dir(info["manifest_cid"], model_dir, peers or [])
    result = evaluate_model(directory, watts=watts, decode_tokens=decode_tokens,
                            quality_tokens=quality_tokens, threads=threads)
    summary = (f"{model_id}: {result.tokens_per_s:.1f} tokens/s, accuracy {result.accuracy:.1%} "
               f"(perplexity {result.perplexity:.2f}), {result.mj_per_token} mJ/token at {watts:g} W")
    if post:
        chain.models.post_benchmark(model_id, result.tokens_per_s, result.mj_per_token,
                                    result.accuracy_bps)
        count = chain.models.model(model_id)["benchmark_count"]
        console.print(f"[green]posted[/] {summary}; {count} benchmark(s) on chain", highlight=False)
    else:
        console.print(f"[yellow]not posted (--dry-run)[/] {summary}", highlight=False)
    if as_json:
        print(json.dumps({**result.as_dict(), "posted": post}), flush=True)


def _proposed_model_dir(manifest_cid: str, model_dir: Path | None, peers: list[str]) -> Path:
    """The proposed model's files: the given directory (checked against the CID on
    chain) or a verified fetch of every file by that CID."""
    from node.core.settings import Settings
    from node.ipfs import fetch_model, open_store
    from node.ipfs.publish import manifest_cid as cid_of_manifest

    if model_dir is not None:
        have = cid_of_manifest(model_dir)
        if have != manifest_cid:
            raise ConfigError(f"{model_dir} has manifest CID {have}, but the proposal on chain "
                              f"names {manifest_cid}: not the proposed model")
        return model_dir
    if not peers:
        raise ConfigError("give --model-dir, or --peer with an IPFS peer that has the model")
    cache = Settings().cache_dir
    store = open_store("embedded", data_dir=cache / "node")
    try:
        return fetch_model(manifest_cid, store, cache, peers=peers, progress=True).model_dir
    finally:
        store.close()
