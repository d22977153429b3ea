"""``helio node serve``'s chain checks, before anything slow starts (IPFS, p2pd, weights).

``stake_plan`` decides the own stake the inferer will hold, said out loud:
- ``--stake AMOUNT``: hold AMOUNT (bond the difference; refused early when the wallet is
  short or AMOUNT is below the minimum);
- no ``--stake`` and already at the minimum or more: bond nothing;
- no ``--stake`` on the local dev chain (31337) for an account that never staked: the
  minimum (what ``make demo`` and the tests rely on), logged;
- otherwise (a testnet; or after ``helio unstake``): refuse to start with the remedy,
  never a silent (re-)bond.
"""

from __future__ import annotations

import logging

from node.cli.chain_access import ChainTarget
from node.core.errors import ConfigError

log = logging.getLogger("helio.node")


def stake_plan(target: ChainTarget, private_key: str, stake: str | None) -> int | None:
    """Own stake (wei) the inferer holds once started; ``None``: bond nothing."""
    from eth_account import Account

    from node.chain.bindings import HelioChain
    from node.chain.devkeys import ANVIL_CHAIN_ID
    from node.chain.reverts import helio, when
    from node.cli.stake import to_wei

    chain = HelioChain.open(target.w3, target.network, None, target.deployments_dir)
    me = Account.from_key(private_key).address
    staking = chain.staking
    own, minimum = staking.stake_of(me).self_stake, staking.min_stake()
    if stake is not None:
        want = to_wei(stake)
        if want < minimum:
            raise ConfigError(f"--stake {stake}: below the minimum stake of {helio(minimum)}")
        short = want - own - chain.token.balance_of(me)
        if short > 0:
            raise ConfigError(f"--stake {stake}: {me} needs {helio(short)} more in its wallet "
                              "(`helio wallet faucet` on a testnet, or a `helio wallet transfer`)")
        log.info("stake: holding %s (own stake now %s)", helio(want), helio(own))
        return want
    if own >= minimum:
        log.info("stake: %s bonded; no --stake, so nothing more is bonded", helio(own))
        return None
    unbonding, release_at = staking.unbonding_of(me)
    if unbonding:
        now = int(target.w3.eth.get_block("latest")["timestamp"])
        raise ConfigError(
            f"own stake {helio(own)} is below the minimum {helio(minimum)}: you unstaked "
            f"{helio(unbonding)} (withdrawable {when(release_at, now)}); `helio node serve` never "
            "bonds again by itself: give --stake AMOUNT, or run `helio stake AMOUNT` first")
    if target.deployment.chain_id == ANVIL_CHAIN_ID:
        log.info("stake: local dev chain, never staked: bonding the minimum %s (--stake sets "
                 "another amount)", helio(minimum))
        return minimum
    raise ConfigError(
        f"{me} is not staked (own stake {helio(own)}, minimum {helio(minimum)}): give --stake "
        "AMOUNT (HELIO to hold), or run `helio stake AMOUNT --identity FILE` first")
