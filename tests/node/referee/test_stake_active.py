"""The stake cache by address (the gateway's contributor check), with a fake registry:
cached whatever the address spelling, fail closed; the fixed-set ``StaticStakes``."""

from __future__ import annotations

from node.chain.devkeys import DEV_ACCOUNTS
from node.referee.stake import StakeCache, StaticStakes


def test_stake_cache_is_active_by_address_caches_and_fails_closed() -> None:
    calls: list[str] = []

    class Staking:
        def is_active(self, address: str) -> bool:
            calls.append(address)
            if address == DEV_ACCOUNTS[3].address:
                raise ConnectionError("no chain")
            return address == DEV_ACCOUNTS[1].address

    cache = StakeCache(Staking())
    assert cache.is_active(DEV_ACCOUNTS[1].address.lower()) is True
    assert cache.is_active(DEV_ACCOUNTS[1].address) is True  # cached, whatever the spelling
    assert cache.is_active(DEV_ACCOUNTS[2].address) is False
    assert cache.is_active(DEV_ACCOUNTS[3].address) is False  # unreachable: not staked
    assert calls == [DEV_ACCOUNTS[1].address, DEV_ACCOUNTS[2].address, DEV_ACCOUNTS[3].address]
    static = StaticStakes({DEV_ACCOUNTS[1].address})
    assert static.is_active(DEV_ACCOUNTS[1].address.lower()) and not static.is_active(DEV_ACCOUNTS[2].address)
    assert "StakingRegistry" in cache.describe() and "off-chain" in static.describe()
