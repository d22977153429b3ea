"""The inferer's start-up step on the chain: register (or update) its node record and hold
exactly the own stake it was told to (``ChainConfig.stake_wei``, from ``--stake`` or the
local dev default): nothing is bonded that was not asked for, so an operator who ran
``helio unstake`` is never re-bonded by a restart (``helio node serve`` refuses to start
below the minimum instead; node/cli/node.py decides before anything starts)."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from node.chain.reverts import helio


def hold_stake(staking: Any, *, peer_id: str, attestation_key: str, region: str, capacity: int,
               stake_wei: int | None) -> list[str]:
    """Register or update the node; bond up to ``stake_wei`` if the own stake is below it
    (``None``: bond nothing). ``staking``: ``node.chain.bindings.Staking``. What it did."""
    me = staking.account.address
    done: list[str] = []
    node = staking.node_of(me)
    if node.registered_at == 0:
        staking.register(peer_id, attestation_key, region, capacity)
        done.append(f"registered as {peer_id}")
    elif (node.peer_id, node.attestation_key, node.region, node.capacity) != (
            peer_id, Web3.to_checksum_address(attestation_key), region, capacity):
        staking.update_node(peer_id, attestation_key, region, capacity)
        done.append(f"node record updated (peer id {peer_id})")
    have = staking.stake_of(me).self_stake
    if stake_wei is not None and have < stake_wei:
        staking.stake(stake_wei - have)
        done.append(f"bonded {helio(stake_wei - have)} more (own stake {helio(stake_wei)})")
    return done
