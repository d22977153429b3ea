"""The planner's stake check against a real anvil chain with the deployed contracts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect, local_account
from node.chain.deploy import deploy_all
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.referee.planner import RoutePlanner
from node.referee.stake import StakeCache
from node.swarm.records import ServerRecord, ServerState

pytestmark = [pytest.mark.chain, pytest.mark.slow]
PEER = "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi"
OTHER_PEER = "12D3KooWQSdtatzXoBEtbw96t6N8PWUvTrQydjkpzDRmNMtemFtt"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=directory)
        yield w3, directory


def record(account: int, peer_id: str = PEER) -> ServerRecord:
    return ServerRecord(
        peer_id=peer_id, address=DEV_ACCOUNTS[account].address, model_id="smollm2-135m-instruct",
        state=ServerState.ONLINE, start=0, end=30, throughput=10.0, cache_tokens_left=100,
        dtype="float32", software_version="0.1.0", timestamp=1.0,
    )


def test_stake_cache_routes_only_to_staked_registered_peers(chain: tuple[Any, Path]) -> None:
    w3, directory = chain
    inferer = HelioChain.open(w3, "test", local_account(DEV_ACCOUNTS[1].private_key), directory)
    inferer.staking.ensure_staked(peer_id=PEER, attestation_key=DEV_ACCOUNTS[1].address,
                                  region="local", capacity=10)
    check = StakeCache(HelioChain.open(w3, "test", None, directory).staking)
    assert check(record(1)) is True
    assert check(record(1, OTHER_PEER)) is False  # staked address, but not this peer's
    assert check(record(2)) is False  # never staked
    planner = RoutePlanner(is_staked=check)
    hops = planner.plan([record(2), record(1)], "smollm2-135m-instruct", 0, 30)
    assert [h.address for h in hops] == [DEV_ACCOUNTS[1].address]


def test_stake_cache_fails_closed_when_the_chain_is_unreachable() -> None:
    class Down:
        def is_active(self, address: str) -> bool:
            raise ConnectionError("no chain")

    assert StakeCache(Down())(record(1)) is False


def test_stake_cache_drops_a_jailed_inferer_before_its_ttl(chain: tuple[Any, Path]) -> None:
    """A fraud slash jails at once: the cache reads the Jailed events (every jail_poll_s)
    and asks again, instead of routing to the jailed inferer for a TTL more."""
    w3, directory = chain
    inferer = HelioChain.open(w3, "test", local_account(DEV_ACCOUNTS[3].private_key), directory)
    inferer.staking.ensure_staked(peer_id=OTHER_PEER, attestation_key=DEV_ACCOUNTS[3].address,
                                  region="local", capacity=10)
    reader = HelioChain.open(w3, "test", None, directory)
    watching = StakeCache(reader.staking, ttl_s=3600, jail_poll_s=0)
    stale = StakeCache(reader.staking, ttl_s=3600, jail_poll_s=3600)
    assert watching(record(3, OTHER_PEER)) is stale(record(3, OTHER_PEER)) is True
    slasher = reader.verification.address  # the only SLASHER_ROLE holder
    w3.provider.make_request("anvil_impersonateAccount", [slasher])
    w3.provider.make_request("anvil_setBalance", [slasher, hex(10**18)])
    until = w3.eth.get_block("latest")["timestamp"] + 3600
    tx = w3.eth.send_transaction(reader.staking.c.functions.jail(DEV_ACCOUNTS[3].address, until)
                                 .build_transaction({"from": slasher, "gas": 500_000}))
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert watching(record(3, OTHER_PEER)) is False
    assert watching.is_active(DEV_ACCOUNTS[3].address) is False
    assert stale(record(3, OTHER_PEER)) is True  # without the watch: the TTL-old answer


def test_stake_cache_asks_again_when_the_jail_watch_fails() -> None:
    class NoLogs:
        asked = 0

        def is_active(self, address: str) -> bool:
            self.asked += 1
            return True

        def jailed_since(self, from_block: int | None) -> tuple[list[str], int]:
            raise ConnectionError("eth_getLogs refused")

    staking = NoLogs()
    cache = StakeCache(staking, ttl_s=3600, jail_poll_s=0)
    assert cache.is_active(DEV_ACCOUNTS[1].address) and cache.is_active(DEV_ACCOUNTS[1].address)
    assert staking.asked == 2  # a failed look forgets: no TTL-old answer survives it
