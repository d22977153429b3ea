"""``helio model propose|evaluate|vote``: ModelRegistry proposals, the benchmarks
inferers post while a model is evaluated, and Governor votes.

The lifecycle: the creator proposes (``propose``, which opens the evaluation); staked
inferers run the model and post what they measured (``evaluate``); once enough
benchmarks are in, the creator opens the vote and stakers vote (``vote``). What comes
after the vote (``status``, ``queue``, ``execute``) is in ``model_gov``. ``vote`` also
joins the deprecation vote of an adopted model (``helio model deprecate``, in
``model_deprecate``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from node.cli.chain_access import open_chain
from node.cli.stake import DevAccount, Network, RpcUrl, from_wei
from node.core.errors import ConfigError

console = Console()


def propose(
    model_id: str = typer.Argument(..., help="lowercase [a-z0-9-] id, e.g. smollm2-135m-instruct"),
    manifest_cid: str = typer.Option(
        None, "--cid", help="IPFS CID of the model manifest (default: the converted model's in the cache)"
    ),
    license_: str = typer.Option(None, "--license", help="e.g. Apache-2.0 (default: the converted model's)"),
    family: str = typer.Option(None, "--family", help="model family, e.g. llama (default: the converted model's)"),
    dtype: str = typer.Option("fp32", "--dtype", help="which cached conversion the defaults come from"),
    min_memory_mb: int = typer.Option(None, "--min-memory-mb", help="requirement: memory an inferer needs (MB)"),
    energy_mj_per_token: int = typer.Option(None, "--energy-mj-per-token", help="requirement: most energy per token (mJ)"),
    max_latency_ms: int = typer.Option(None, "--max-latency-ms", help="requirement: most latency per token (ms)"),
    royalty: str = typer.Option(None, "--royalty", help="royalty address (default: this key)"),
    evaluate: bool = typer.Option(
        True, "--evaluate/--no-evaluate", help="open evaluation right away"
    ),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Propose a model on chain (and open its evaluation); run again by its creator, open
    the evaluation of a model proposed with --no-evaluate.

    The CID, license and family default to those of the model converted in the cache
    (`helio model convert`); publish it first (`helio model publish`) so inferers can fetch it."""
    chain = open_chain(network, rpc_url, dev_account)
    me = chain.account.address  # type: ignore[union-attr]
    known = chain.models.model(model_id)
    if known["status"] == "proposed" and known["creator"] == me and evaluate:
        chain.models.start_evaluation(model_id)  # proposed earlier with --no-evaluate
        console.print(f"[green]evaluation open[/] for {model_id}: {chain.models.status(model_id)}")
        return
    if None in (min_memory_mb, energy_mj_per_token, max_latency_ms):
        raise ConfigError("a proposal states its requirements: give --min-memory-mb, "
                          "--energy-mj-per-token and --max-latency-ms")
    if manifest_cid is None or license_ is None or family is None:
        manifest_cid, license_, family = _from_cache(model_id, dtype, manifest_cid, license_, family)
    _refuse_duplicate(chain, manifest_cid)
    chain.models.propose(model_id, manifest_cid, license_, family, min_memory_mb=min_memory_mb,
                         energy_mj_per_token=energy_mj_per_token, max_latency_ms=max_latency_ms,
                         royalty_recipient=royalty or me)  # fmt: skip
    if evaluate:
        chain.models.start_evaluation(model_id)
    console.print(f"[green]proposed[/] {model_id}: {chain.models.status(model_id)} "
                  f"(manifest {manifest_cid}, {family}, {license_})", soft_wrap=True)


def _refuse_duplicate(chain: Any, manifest_cid: str) -> None:
    """The same weights are proposed once (the registry refuses a second time too): name
    the original, its creator and where it stands."""
    from node.chain.bindings import MODEL_STATUS

    key = bytes(chain.models.c.functions.keyOfManifest(manifest_cid).call())
    if key == bytes(32):
        return
    original = chain.models.c.functions.modelOf(key).call()
    model_id, creator, status = original[7], original[0], MODEL_STATUS[original[1]]
    raise ConfigError(f"manifest {manifest_cid} is already proposed as {model_id!r} by {creator} "
                      f"({status}): the same weights cannot be proposed twice; see "
                      f"`helio model status {model_id}`")


def _from_cache(model_id: str, dtype: str, cid: str | None, license_: str | None,
                family: str | None) -> tuple[str, str, str]:
    from node.core.settings import Settings
    from node.ipfs.publish import manifest_cid as cid_of_manifest
    from node.models.convert import cached_manifest

    directory, manifest, problems = cached_manifest(Settings().cache_dir, model_id, dtype)
    if manifest is None or problems:
        raise ConfigError(f"give --cid, --license and --family, or convert {model_id} first "
                          f"(`helio model convert`): {'; '.join(problems)} at {directory}")
    return (cid or cid_of_manifest(directory), license_ or manifest.source.license,
            family or manifest.family)


def vote(
    model_id: str = typer.Argument(..., help="the model whose adoption (or deprecation) vote to join"),
    support: str = typer.Option("for", "--support", help="for, against or abstain"),
    reason: str = typer.Option("", "--reason"),
    open_vote: bool = typer.Option(False, "--open", help="as the creator: open the vote (voting starts a few blocks later)"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Vote on a model's adoption, or on an adopted model's deprecation once proposed
    (`helio model deprecate`), with this inferer's stake-weighted power.

    A vote that could not count is refused with the reason: the model is not in Voting
    and no deprecation vote is open, voting has not opened yet or has closed, this
    account already voted, or it had no voting power at the vote's snapshot (only active
    inferers vote; holders delegate)."""
    from node.cli.model_gov import standing

    chain = open_chain(network, rpc_url, dev_account)
    if open_vote:
        _refuse_failing_evaluation(chain, model_id)
        chain.models.start_voting(model_id)
        where = standing(chain, model_id)
        console.print(f"[green]vote on {model_id} is open[/] (proposal {where.proposal}); "
                      + " ".join(ln for ln in where.lines if ln.startswith("next:")), highlight=False)
        if where.state != "active":
            return
    where = standing(chain, model_id)
    play = where.in_play()
    if play is None:
        now = ("adopted and no deprecation vote is open" if where.status == "adopted"
               else f"{where.status!r}, not in Voting")
        raise ConfigError(f"cannot vote on {model_id}: it is {now}; {where.hint}")
    kind, pid, state = play
    what = "vote" if kind == "adoption" else "deprecation vote"
    if state != "active":
        raise ConfigError(f"cannot vote on {model_id} now: the {what} is {state}; {where.hint}")
    me = chain.account.address  # type: ignore[union-attr]
    g = chain.governor.c.functions
    if g.hasVoted(pid, me).call():
        raise ConfigError(f"{me} already voted on {model_id}'s {kind}; a vote cannot be changed")
    snapshot = int(g.proposalSnapshot(pid).call())
    power = int(chain.staking.c.functions.getPastVotes(me, snapshot).call())
    if power == 0:
        raise ConfigError(
            f"{me} had no voting power at the vote's snapshot (block {snapshot}): only active "
            "inferers vote, with their own stake plus what holders delegated to them before the "
            "snapshot; a holder who runs no node delegates with `helio delegate INFERER AMOUNT`"
        )
    chain.governor.vote(pid, support, reason)
    votes = chain.governor.votes(pid)
    on = model_id if kind == "adoption" else f"the deprecation of {model_id}"
    console.print(
        f"[green]voted {support}[/] on {on} with {from_wei(power)} HELIO of power: "
        f"{votes} ({chain.governor.state(pid)})", soft_wrap=True
    )


def _refuse_failing_evaluation(chain: Any, model_id: str) -> None:
    """The vote opens only on an evaluation that passes: say why not before any tx."""
    from node.cli.model_gov import standing

    where = standing(chain, model_id)
    if where.status != "evaluating":
        hint = next((ln for ln in where.lines if ln.startswith("next:")), where.lines[-1])
        raise ConfigError(f"cannot open the vote on {model_id}: it is {where.status!r}, not evaluating; {hint}")
    ev = chain.models.evaluation(model_id)
    if ev["failure"] != "none":
        raise ConfigError(f"cannot open the vote on {model_id} yet: {ev['reason']}; more inferers "
                          f"may run `helio model evaluate {model_id}`; after the evaluation period "
                          f"anyone closes it with `helio model close-evaluation {model_id}`, which "
                          "rejects a model that still fails")


EvalModelDir = typer.Option(None, "--model-dir", help="the converted model, if you have it; its "
                            "manifest must be the proposed one")
EvalPeers = typer.Option(None, "--peer", help="IPFS multiaddr …/p2p/<id> that has the model "
                         "(repeatable); without --model-dir the model is fetched by its on-chain CID")


def evaluate(
    model_id: str = typer.Argument(..., help="a model in evaluation (see `helio model status`)"),
    model_dir: Path | None = EvalModelDir,
    peers: list[str] | None = EvalPeers,
    watts: float = typer.Option(300.0, "--watts", help="this machine's power draw while serving (W)"),
    memory_mb: int | None = typer.Option(None, "--memory-mb", help="memory this inferer offers to "
                                         "serve the model, MB (default: the GPU's, else the RAM available now)"),
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
    and energy per token from --watts; posts them with the memory offered (--memory-mb) to
    ModelRegistry.postBenchmark. The benchmark counts towards the fleet that can serve the
    model when it is within the proposal's energy and latency bounds (printed)."""
    from node.bench.evaluate import evaluate_model

    chain = open_chain(network, rpc_url, dev_account)
    info = chain.models.model(model_id)
    if info["status"] != "evaluating":
        raise ConfigError(f"{model_id} is {info['status']!r} on chain; benchmarks are posted "
                          "only while a model is being evaluated")
    if post and not chain.staking.is_active(chain.account.address):  # type: ignore[union-attr]
        raise ConfigError(f"{chain.account.address} is not an active inferer: only staked "  # type: ignore[union-attr]
                          "inferers post benchmarks (`helio stake`, or --dry-run to only measure)")
    if memory_mb is None:
        memory_mb = offered_memory_mb()
    if memory_mb <= 0 or memory_mb >= 2**32:
        raise ConfigError(f"--memory-mb {memory_mb}: give the MB this inferer offers (1 .. 2^32-1)")
    directory = _proposed_model_dir(info["manifest_cid"], model_dir, peers or [])
    result = evaluate_model(directory, watts=watts, decode_tokens=decode_tokens,
                            quality_tokens=quality_tokens, threads=threads)
    summary = (f"{model_id}: {result.tokens_per_s:.1f} tokens/s, accuracy {result.accuracy:.1%} "
               f"(perplexity {result.perplexity:.2f}), {result.mj_per_token} mJ/token at {watts:g} W, "
               f"{memory_mb} MB offered")
    verdict = _within_bounds(info, result.tokens_per_s, result.mj_per_token)
    if post:
        chain.models.post_benchmark(model_id, result.tokens_per_s, result.mj_per_token,
                                    result.accuracy_bps, memory_mb)
        count = chain.models.model(model_id)["benchmark_count"]
        console.print(f"[green]posted[/] {summary}; {count} benchmark(s) on chain", highlight=False)
        console.print(f"{verdict}; the evaluation so far: "
                      f"{chain.models.evaluation(model_id)['reason']}", highlight=False)
    else:
        console.print(f"[yellow]not posted (--dry-run)[/] {summary}; {verdict}", highlight=False)
    if as_json:
        print(json.dumps({**result.as_dict(), "memory_mb": memory_mb, "posted": post}), flush=True)


def offered_memory_mb() -> int:
    """What this machine can give a model: the first GPU's memory, else the RAM free now."""
    import psutil
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory // 2**20)
    return int(psutil.virtual_memory().available // 2**20)


def _within_bounds(info: dict[str, Any], tokens_per_s: float, mj_per_token: int) -> str:
    """Whether one benchmark is within the proposal's energy and latency bounds (the
    registry's rule: ModelRegistry.postBenchmark), in words."""
    energy, latency = int(info["energy_mj_per_token"]), int(info["max_latency_ms"])
    ms = 1000 / tokens_per_s if tokens_per_s > 0 else float("inf")
    misses = ([f"{mj_per_token} mJ/token > {energy}"] if energy and mj_per_token > energy else []) + \
        ([f"{ms:.0f} ms/token > {latency}"] if latency and round(tokens_per_s * 1000) * latency < 10**6 else [])
    if misses:
        return f"outside the proposal's bounds ({', '.join(misses)}): not counted in the fleet"
    return "within the proposal's energy and latency bounds: counted in the fleet that can serve it"


def close_evaluation(
    model_id: str = typer.Argument(..., help="a model whose evaluation period is over"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Close an evaluation once its period is over (anyone may): the vote opens if the
    inferers that posted benchmarks can serve the model, else it is rejected on chain with
    the reason (too few benchmarks, energy, latency or memory)."""
    from node.cli.model_gov import at_time

    chain = open_chain(network, rpc_url, dev_account)
    status = chain.models.status(model_id)
    if status != "evaluating":
        raise ConfigError(f"cannot close the evaluation of {model_id}: it is {status!r}, not "
                          f"evaluating; see `helio model status {model_id}`")
    ev = chain.models.evaluation(model_id)
    now = int(chain.models.w3.eth.get_block("latest")["timestamp"])
    if now < ev["closes_at"]:
        raise ConfigError(f"the evaluation of {model_id} is open until "
                          f"{at_time(chain.models.w3, ev['closes_at'])}; so far: {ev['reason']}")
    chain.models.close_evaluation(model_id)
    after = chain.models.status(model_id)
    if after == "rejected":
        console.print(f"[red]evaluation failed[/]: {model_id} is rejected on chain: {ev['reason']}",
                      highlight=False)
    else:
        console.print(f"[green]evaluation passed[/]: the vote on {model_id} is open "
                      f"(`helio model status {model_id}`)", highlight=False)


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
