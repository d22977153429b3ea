"""``helio model deprecate``: propose to retire an adopted model, by vote.

The proposal is a Governor proposal whose one action is ``ModelRegistry.deprecate(key)``
(the Timelock holds ``GOVERNANCE_ROLE``). Nothing is stored off chain: ``vote``,
``queue``, ``execute`` and ``status`` find it again in the Governor's ``ProposalCreated``
logs by that action (``Governor.deprecation_proposals``), so the user never passes a
proposal id. The description is deterministic, "Deprecate model <id> (vote <n>)" with
``n`` counting this model's deprecation proposals, so a defeated one can be proposed
again; OpenZeppelin's ``#proposer=<address>`` suffix reserves it to its proposer (nobody
can front-run the identical proposal and cancel it while pending).
"""

from __future__ import annotations

from rich.console import Console

from node.cli.chain_access import open_chain
from node.cli.model_gov import OPEN_STATES, ModelArg, standing
from node.cli.stake import DevAccount, Network, RpcUrl, from_wei
from node.core.errors import ConfigError

console = Console()


def deprecate(model_id: str = ModelArg, network: str = Network, rpc_url: str = RpcUrl,
              dev_account: int = DevAccount) -> None:
    """Propose to deprecate an adopted model (a Governor vote on ModelRegistry.deprecate).

    The proposer needs the Governor's proposal threshold of voting power: an active
    inferer's own stake plus what holders delegated to it. Inferers then vote with
    `helio model vote`, and anyone queues and executes it as for an adoption."""
    chain = open_chain(network, rpc_url, dev_account)
    where = standing(chain, model_id)
    if where.status == "none":
        raise ConfigError(f"cannot deprecate {model_id}: no model with this id is registered "
                          "(`helio model list --rpc-url …` lists the adopted ones)")
    if where.status != "adopted":
        raise ConfigError(f"cannot deprecate {model_id}: it is {where.status}, not adopted; only "
                          f"an adopted model is deprecated (`helio model status {model_id}`)")
    play = where.in_play()
    if play is not None and play[2] in OPEN_STATES:
        raise ConfigError(f"a deprecation vote on {model_id} is already open (proposal {play[1]}, "
                          f"{play[2]}); {where.hint}")
    me = chain.account.address  # type: ignore[union-attr]
    power, threshold = chain.staking.votes(me), chain.governor.proposal_threshold()
    if power < threshold:
        raise ConfigError(
            f"{me} has {from_wei(power)} HELIO of voting power; proposing a deprecation needs "
            f"{from_wei(threshold)} HELIO (the Governor's proposal threshold). Only active inferers "
            "have voting power, their own stake plus what holders delegated to them: stake "
            "(`helio stake AMOUNT --peer-id …`, then run a node) and have holders delegate to "
            "you (`helio delegate YOUR_ADDRESS AMOUNT`), or ask an inferer with enough power "
            f"to run `helio model deprecate {model_id}`"
        )
    # The Governor counts the power of the block before the proposal's; a node may estimate
    # the transaction as if in the latest block (anvil does), so the block before that.
    head = int(chain.w3.eth.block_number)
    if int(chain.staking.c.functions.getPastVotes(me, max(head - 1, 0)).call()) < threshold:
        raise ConfigError(f"{me} has had {from_wei(power)} HELIO of voting power only since block "
                          f"{head}: the Governor counts it from the next block on; run this "
                          "again once another block is mined")
    governor, models = chain.governor, chain.models
    earlier = governor.deprecation_proposals(models, model_id, chain.deployment.block_number)
    description = f"Deprecate model {model_id} (vote {len(earlier) + 1})#proposer={me.lower()}"
    targets, values, calldatas, _ = governor.deprecation_call(models, model_id, description)
    pid = governor.propose(targets, values, calldatas, description)
    after = standing(chain, model_id)
    console.print(f"[green]proposed the deprecation[/] of {model_id} (proposal {pid}); "
                  + after.hint, highlight=False, soft_wrap=True)
