"""``helio status --mine``: your own node as the chain sees it, in words and dates.

Own and delegated stake, the minimum, active or not, jailed (until when) and frozen
(a fraud claim open against you), what is unbonding and from when it can be withdrawn,
your wallet, royalties you can withdraw, and, given a gateway (``--gateway URL``), the
contribution rewards of its closed epochs that are yours and not yet claimed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from node.core.errors import ConfigError

if TYPE_CHECKING:
    from node.chain.bindings import HelioChain


def my_status(chain: HelioChain, address: str, gateway: str | None = None) -> dict[str, Any]:
    """What ``--mine`` shows, JSON-ready (amounts in wei as strings, times as unix + words)."""
    from node.chain.reverts import when

    staking = chain.staking
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    node = staking.node_of(address)
    stake = staking.stake_of(address)
    unbonding, release_at = staking.unbonding_of(address)
    out: dict[str, Any] = {
        "address": address,
        "chain_time": now,
        "registered": node.registered_at != 0,
        "peer_id": node.peer_id or None,
        "registered_at": _time(node.registered_at, now) if node.registered_at else None,
        "wallet_wei": str(chain.token.balance_of(address)),
        "own_stake_wei": str(stake.self_stake),
        "delegated_stake_wei": str(stake.delegated_stake),
        "min_stake_wei": str(staking.min_stake()),
        "active": staking.is_active(address),
        "unbonding_wei": str(unbonding),
        "withdrawable_at": _time(release_at, now) if unbonding else None,
        "withdrawable_now": bool(unbonding) and release_at <= now,
        "jailed": None, "jailed_until": None, "frozen": None,
    }
    # Jail and freeze exist in the StakingRegistry of newer deployments only.
    with contextlib.suppress(Exception):
        out["jailed"] = staking.is_jailed(address)
        until = staking.jailed_until(address)
        out["jailed_until"] = _time(until, now) if until > now else None
    with contextlib.suppress(Exception):
        out["frozen"] = staking.is_frozen(address)
    if "Payments" in chain.deployment.contracts:
        with contextlib.suppress(Exception):
            out["royalties_wei"] = str(chain.payments.c.functions.royaltiesOf(address).call())
    if gateway:
        out["epoch_rewards"] = _epoch_rewards(chain, address, gateway, now)
    out["when"] = when(now, now)
    return out


def _time(unix: int, now: int) -> dict[str, Any]:
    from node.chain.reverts import when

    return {"unix": int(unix), "text": when(unix, now)}


def _epoch_rewards(chain: HelioChain, address: str, gateway: str, now: int) -> list[dict[str, Any]]:
    """This account's share of each closed epoch the gateway posted, claimed or not."""
    import httpx

    try:
        response = httpx.get(gateway.rstrip("/") + "/v1/contributions", timeout=10)
        response.raise_for_status()
        closed = response.json().get("closed", [])
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"cannot read {gateway}/v1/contributions ({type(exc).__name__}); is the "
                          "gateway running?") from None
    rewards = []
    for epoch in closed:
        mine = [int(a["amount"]) for a in epoch.get("amounts", []) if a["account"].lower() == address.lower()]
        if not mine or epoch.get("chain_epoch") is None:
            continue
        claimed = bool(chain.payments.c.functions.isClaimed(epoch["chain_epoch"], address).call())
        opens = int(epoch.get("opens_at") or 0)
        rewards.append({"epoch": epoch["chain_epoch"], "amount_wei": str(mine[0]), "claimed": claimed,
                        "claimable_from": _time(opens, now) if opens else None})
    return rewards


def render(status: dict[str, Any]) -> list[str]:
    """Lines for the terminal."""
    from node.chain.reverts import helio

    def amount(key: str) -> str:
        return helio(int(status[key]))

    lines = [f"[bold]{status['address']}[/] (chain time {status['when'].split(' (')[0]})"]
    if status["registered"]:
        lines.append(f"node: peer id {status['peer_id']}, registered {status['registered_at']['text']}")
    else:
        lines.append("node: not registered (`helio stake AMOUNT --identity FILE`)")
    active = "[green]active[/]" if status["active"] else "[yellow]not active[/]"
    lines.append(f"stake: own {amount('own_stake_wei')}, delegated {amount('delegated_stake_wei')} "
                 f"(minimum {amount('min_stake_wei')}): {active}")
    if int(status["unbonding_wei"]):
        ready = "[green]withdraw now[/] (`helio withdraw`)" if status["withdrawable_now"] else "withdrawable"
        lines.append(f"unbonding: {amount('unbonding_wei')}, {ready} from {status['withdrawable_at']['text']}")
    else:
        lines.append("unbonding: nothing")
    if status["jailed"] is None:
        lines.append("jailed: unknown (this deployment's StakingRegistry has no jail)")
    elif status["jailed"]:
        until = status["jailed_until"]
        lines.append(f"[red]jailed[/]{' until ' + until['text'] if until else ''}: routers skip you; "
                     "re-register after it (docs/operators.md)")
    else:
        lines.append("jailed: no" + (", [red]frozen[/] (a fraud claim is open)" if status["frozen"] else ""))
    lines.append(f"wallet: {amount('wallet_wei')}")
    if "royalties_wei" in status:
        lines.append(f"royalties to withdraw: {amount('royalties_wei')}")
    for reward in status.get("epoch_rewards", []):
        state = "claimed" if reward["claimed"] else (
            f"claimable from {reward['claimable_from']['text']}" if reward["claimable_from"] else "claimable")
        lines.append(f"epoch {reward['epoch']} reward: {helio(int(reward['amount_wei']))}, {state}")
    return lines
