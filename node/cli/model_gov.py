"""``helio model status|queue|execute|finalize`` and ``helio delegate``: after the vote.

``status`` says where a model stands and what happens next, by whom and when: the
registry's status, the Governor's proposal state, the blocks and times that gate each
step (in words). ``queue`` and ``execute`` move a passed vote through the Timelock: the
adoption vote of a model in Voting, or the deprecation vote of an adopted model (filed by
``helio model deprecate``, found again in the Governor's ``ProposalCreated`` logs);
``finalize`` records the rejection after a lost adoption vote; anyone may run them. ``delegate``
lends a holder's tokens to an inferer, whose votes then carry them: only inferers vote,
so this is how a holder who runs no node counts.

A step taken in the wrong state is refused before any transaction, with the reason and
when it can be taken; the chain's own refusals arrive decoded (``node.chain.reverts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from node.cli.chain_access import open_chain
from node.cli.stake import DevAccount, Network, RpcUrl, from_wei, to_wei
from node.core.errors import ConfigError

if TYPE_CHECKING:
    from node.chain.bindings import FiledProposal

console = Console()
ModelArg = typer.Argument(..., help="the model id, as proposed")
OPEN_STATES = ("pending", "active", "succeeded", "queued")  # a vote still on its way


# --- time in words --------------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size, 1)
            return f"{n:g} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def at_time(w3: Any, when: int) -> str:
    now = int(w3.eth.get_block("latest")["timestamp"])
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"now (since {stamp})" if when <= now else f"at {stamp} (in {_duration(when - now)})"


def block_time_s(w3: Any, sample: int = 100) -> float | None:
    """Mean seconds per block over the last ``sample`` blocks (None on a fresh chain)."""
    head = w3.eth.get_block("latest")
    if head["number"] == 0:
        return None
    old = w3.eth.get_block(max(0, head["number"] - sample))
    span = head["number"] - old["number"]
    return (head["timestamp"] - old["timestamp"]) / span if span else None


def _at_block(w3: Any, block: int) -> str:
    head = int(w3.eth.block_number)
    if block <= head:
        return f"now (block {block} is past; the chain is at {head})"
    per_block = block_time_s(w3)
    eta = f", about {_duration((block - head) * per_block)}" if per_block else ""
    return f"at block {block} ({block - head} block(s) from now{eta})"


# --- where a model stands ---------------------------------------------------------------
@dataclass(frozen=True)
class Standing:
    status: str  # ModelRegistry status
    proposal: int
    state: str | None  # Governor state of the adoption vote, None before one
    lines: list[str]  # facts, then "next: …"
    # adopted: its latest deprecation proposal (none once one executed: a former life of a
    # released id); deprecated: the one that executed, if a proposal did it
    deprecation: FiledProposal | None = None
    deprecation_state: str | None = None

    @property
    def hint(self) -> str:
        return next((ln for ln in self.lines if ln.startswith("next:")), self.lines[-1])

    def in_play(self) -> tuple[str, int, str] | None:
        """(``"adoption"`` or ``"deprecation"``, proposal id, Governor state) of the vote that
        ``vote``, ``queue`` and ``execute`` act on: the adoption vote while the model is in
        Voting, its latest deprecation vote while it is adopted; None otherwise."""
        if self.status == "voting" and self.state is not None:
            return "adoption", self.proposal, self.state
        if self.status == "adopted" and self.deprecation and self.deprecation_state:
            return "deprecation", self.deprecation.proposal_id, self.deprecation_state
        return None


def standing(chain: Any, model_id: str) -> Standing:
    models, governor = chain.models, chain.governor
    info = models.model(model_id)
    status, pid = info["status"], int(info["proposal_id"])
    state = governor.state(pid) if pid and status in ("voting", "adopted", "rejected", "deprecated") else None
    lines: list[str] = []
    if status == "none":
        return Standing(status, 0, None, [
            f"{model_id} is not proposed", "next: its creator proposes it with `helio model propose "
            f"{model_id}` (after `helio model convert` and `helio model publish`)"])
    creator = info["creator"]
    lines.append(f"{model_id}: {status}; manifest {info['manifest_cid']}; license {info['license']}; "
                 f"family {info['family']}; creator {creator}")
    if status == "proposed":
        lines.append(f"next: the creator ({creator}) opens the evaluation with "
                     f"`helio model propose {model_id}` (now)")
    elif status == "evaluating":
        lines += _evaluation_lines(chain, model_id, info)
    elif status == "voting" and state is not None:
        lines += _vote_lines(chain, model_id, pid, state, "adoption")
    elif status == "adopted":
        lines.append("adopted: the swarm serves it (inferers started with --follow-registry pick it up)")
    elif status == "rejected":
        ev = models.evaluation(model_id)
        if ev["failed"]:
            lines.append(f"evaluation failed ({ev['failure']}): {ev['reason']}")
        lines.append("rejected; its creator may propose the model again under another id")
    elif status == "deprecated":
        lines.append("deprecated: inferers drain it and move to the adopted models")
    if pid and state is not None and status != "voting":
        lines.append(f"adoption vote {pid}: {state}")
    deprecation, dep_state = _deprecation(chain, model_id, status)
    if status == "adopted":
        lines += _deprecation_lines(chain, model_id, deprecation, dep_state)
    elif deprecation is not None:
        lines.append(f"deprecation vote {deprecation.proposal_id}: {dep_state} "
                     f"(proposed by {deprecation.proposer})")
    return Standing(status, pid, state, lines, deprecation, dep_state)


def _deprecation(chain: Any, model_id: str, status: str) -> tuple[FiledProposal | None, str | None]:
    """The deprecation proposal that concerns the model now (see ``Standing``) and its state."""
    if status not in ("adopted", "deprecated"):
        return None, None
    governor = chain.governor
    filed = governor.deprecation_proposals(chain.models, model_id, chain.deployment.block_number)
    for proposal in reversed(filed):
        state = governor.state(proposal.proposal_id)
        if status == "adopted":
            return (proposal, state) if state != "executed" else (None, None)
        if state == "executed":
            return proposal, state
    return None, None


def _deprecation_lines(chain: Any, model_id: str, proposal: FiledProposal | None,
                       state: str | None) -> list[str]:
    threshold = from_wei(chain.governor.proposal_threshold())
    how = (f"an inferer with at least {threshold} HELIO of voting power proposes its "
           f"deprecation with `helio model deprecate {model_id}`")
    if proposal is None or state is None:
        return [f"next: to retire it, {how}"]
    filed = (f"deprecation proposed by {proposal.proposer} at block {proposal.block_number}: "
             f"{proposal.description.split('#proposer=')[0]!r}")
    if state in OPEN_STATES:
        return [filed, *_vote_lines(chain, model_id, proposal.proposal_id, state, "deprecation")]
    return [filed, f"deprecation vote {proposal.proposal_id}: {state}; the model stays adopted",
            f"next: to try again, {how}"]


def _evaluation_lines(chain: Any, model_id: str, info: dict[str, Any]) -> list[str]:
    models, w3 = chain.models, chain.models.w3
    need = int(models.c.functions.minBenchmarks().call())
    have, creator = int(info["benchmark_count"]), info["creator"]
    ev = models.evaluation(model_id)
    bounds = (f"requirements: {info['min_memory_mb']} MB, ≤ {info['energy_mj_per_token']} mJ/token, "
              f"≤ {info['max_latency_ms']} ms/token (0: no bound)")
    lines = [f"benchmarks: {have} posted, {need} needed; {bounds}",
             f"fleet within the energy and latency bounds: {ev['qualified']} inferer(s) offering "
             f"{ev['qualified_memory_mb']} MB"]
    closes = at_time(w3, ev["closes_at"])
    if ev["failure"] == "none":
        lines.append(f"verdict so far: passes; the evaluation period ends {closes}")
        lines.append(f"next: the creator ({creator}) opens the vote with "
                     f"`helio model vote {model_id} --open` (now)")
        return lines
    lines.append(f"verdict so far: fails: {ev['reason']}; the evaluation period ends {closes}")
    lines.append(f"next: active inferers run `helio model evaluate {model_id}` (any of them, now); "
                 f"after the period anyone runs `helio model close-evaluation {model_id}`, which "
                 "opens the vote if it passes and otherwise rejects it with the reason")
    return lines


def _vote_lines(chain: Any, model_id: str, pid: int, state: str, kind: str) -> list[str]:
    """The ``kind`` ("adoption" or "deprecation") vote: its tally and the next step."""
    governor, w3 = chain.governor, chain.models.w3
    g = governor.c.functions
    snapshot, deadline = int(g.proposalSnapshot(pid).call()), int(g.proposalDeadline(pid).call())
    votes = governor.votes(pid)
    tally = ", ".join(f"{k} {from_wei(v)}" for k, v in votes.items())
    lines = [f"{kind} vote {pid}: {state}; votes: {tally}"]
    if state == "pending":
        lines.append(f"next: inferers vote with `helio model vote {model_id}` from block {snapshot + 1}, "
                     f"{_at_block(w3, snapshot + 1)}; holders delegate to an inferer before that "
                     "with `helio delegate`")
    elif state == "active":
        quorum = int(g.quorum(snapshot).call())
        lines.append(f"quorum: {from_wei(quorum)} of voting power (for + abstain); "
                     f"supermajority {int(g.supermajorityBps().call()) / 100:g} % of for + against")
        lines.append(f"next: inferers vote with `helio model vote {model_id}` until block {deadline} "
                     f"(closes {_at_block(w3, deadline + 1)})")
    elif state == "succeeded":
        lines.append(f"next: anyone queues it in the Timelock with `helio model queue {model_id}` (now)")
    elif state == "queued":
        eta = int(g.proposalEta(pid).call())
        lines.append(f"next: anyone executes it with `helio model execute {model_id}` {at_time(w3, eta)}")
    elif state in ("defeated", "expired", "canceled") and kind == "adoption":
        lines.append(f"the vote {state}: the model stays unadopted; next: anyone records the "
                     f"rejection with `helio model finalize {model_id}` (now)")
    return lines


# --- commands ----------------------------------------------------------------------------
def status(model_id: str = ModelArg, network: str = Network, rpc_url: str = RpcUrl) -> None:
    """Where a proposed model stands: its state, the vote on its adoption or deprecation,
    the next step, who can take it and when."""
    chain = open_chain(network, rpc_url, None, signing=False)
    for line in standing(chain, model_id).lines:
        console.print(line, highlight=False)


def _in_play(chain: Any, model_id: str, want: str, step: str) -> tuple[str, int, tuple[Any, ...]]:
    """(kind, proposal id, Governor call arguments) of the model's vote in play, refused
    unless it is in state ``want``."""
    where = standing(chain, model_id)
    play = where.in_play()
    if play is None or play[2] != want:
        if play is not None and play[0] == "deprecation":
            now = f"its deprecation vote is {play[2]}, not {want}"
        elif where.status == "adopted":
            now = "it is adopted and no deprecation vote is open"
        else:
            now = f"it is {where.state if where.status == 'voting' else where.status}, not {want}"
        raise ConfigError(f"cannot {step} {model_id}: {now}; {where.hint}")
    kind, pid, _ = play
    if kind == "adoption":
        return kind, pid, tuple(chain.governor.adoption_call(chain.models, model_id))
    assert where.deprecation is not None
    call = chain.governor.deprecation_call(chain.models, model_id, where.deprecation.description)
    return kind, pid, tuple(call)


def queue(model_id: str = ModelArg, network: str = Network, rpc_url: str = RpcUrl,
          dev_account: int = DevAccount) -> None:
    """Queue a passed adoption or deprecation in the Timelock (anyone may; it runs after
    the delay)."""
    chain = open_chain(network, rpc_url, dev_account)
    kind, pid, call = _in_play(chain, model_id, "succeeded", "queue")
    chain.governor.queue(*call)
    eta = int(chain.governor.c.functions.proposalEta(pid).call())
    console.print(f"[green]queued[/] the {kind} of {model_id}; `helio model execute {model_id}` "
                  f"{at_time(chain.models.w3, eta)}", highlight=False)


def execute(model_id: str = ModelArg, network: str = Network, rpc_url: str = RpcUrl,
            dev_account: int = DevAccount) -> None:
    """Execute a queued adoption or deprecation once the Timelock delay has passed (anyone
    may)."""
    chain = open_chain(network, rpc_url, dev_account)
    _, pid, call = _in_play(chain, model_id, "queued", "execute")
    eta = int(chain.governor.c.functions.proposalEta(pid).call())
    now = int(chain.models.w3.eth.get_block("latest")["timestamp"])
    if now < eta:
        raise ConfigError(f"cannot execute {model_id} yet: the Timelock releases it {at_time(chain.models.w3, eta)}")
    chain.governor.execute(*call)
    console.print(f"[green]executed[/]: {model_id} is {chain.models.status(model_id)}", highlight=False)


def finalize(model_id: str = ModelArg, network: str = Network, rpc_url: str = RpcUrl,
             dev_account: int = DevAccount) -> None:
    """Record the rejection of a model whose adoption vote was defeated, canceled or
    expired (anyone may); its creator may then propose it again under another id."""
    chain = open_chain(network, rpc_url, dev_account)
    where = standing(chain, model_id)
    if where.status != "voting" or where.state not in ("defeated", "canceled", "expired"):
        now = where.state or where.status
        raise ConfigError(f"cannot finalize {model_id}: it is {now}, not a defeated, canceled or "
                          f"expired vote; {where.hint}")
    chain.models.finalize_rejected(model_id)
    console.print(f"[green]recorded[/]: {model_id} is {chain.models.status(model_id)} "
                  f"(the vote {where.state})", highlight=False)


def delegate(
    inferer: str = typer.Argument(..., help="address of an active inferer whose votes carry your tokens"),
    amount: str = typer.Argument(..., help="HELIO to delegate (bonded: undelegating takes the unbonding delay)"),
    network: str = Network,
    rpc_url: str = RpcUrl,
    dev_account: int = DevAccount,
) -> None:
    """Delegate HELIO to an inferer: for holders who run no node. Its votes count them
    in every vote whose snapshot comes after this; it can be slashed with the inferer."""
    from web3 import Web3

    chain = open_chain(network, rpc_url, dev_account)
    if not Web3.is_address(inferer):
        raise ConfigError(f"{inferer!r} is not an address (0x… of an inferer; see `helio status`)")
    inferer = Web3.to_checksum_address(inferer)
    staking, me = chain.staking, chain.account.address  # type: ignore[union-attr]
    if not staking.is_active(inferer):
        raise ConfigError(f"{inferer} is not an active inferer: delegate to one that is staked "
                          "(`helio status` lists them)")
    wei = to_wei(amount)
    balance = chain.token.balance_of(me)
    if balance < wei:
        raise ConfigError(f"{me} holds {from_wei(balance)} HELIO, less than {amount}")
    staking.delegate_stake(inferer, wei)
    console.print(f"[green]delegated[/] {amount} HELIO to {inferer}; its voting power is now "
                  f"{from_wei(staking.votes(inferer))} HELIO", highlight=False)
