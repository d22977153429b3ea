"""Where the gateway reads payment channels from.

``ChannelInfo`` is what the voucher checks need about a channel: whose deposit it is,
toward which payee, how much was deposited and already redeemed, and until when.
``MemoryChannels`` holds channels opened off-chain: it is what the gateway uses while no
Payments contract is deployed (tests, and the demo until issue #6 lands its contract);
``ChainChannels`` (payments/chain.py) reads the deployed Payments contract.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Protocol


@dataclass(frozen=True)
class ChannelInfo:
    channel: int
    client: str  # checksummed address that deposited and signs vouchers
    payee: str  # checksummed address of the gateway operator
    deposit: int  # token wei deposited in total
    redeemed: int  # token wei already paid out to the payee
    expires_at: int  # unix seconds; after it the client can reclaim the rest
    closed: bool = False


class ChannelSource(Protocol):
    def channel(self, channel_id: int) -> ChannelInfo | None: ...


class MemoryChannels:
    """Channels kept in memory (no Payments contract): ``open`` stands for a deposit."""

    def __init__(self) -> None:
        self._channels: dict[int, ChannelInfo] = {}
        self._lock = threading.Lock()

    def open(self, client: str, payee: str, deposit: int, expires_at: int) -> int:
        with self._lock:
            channel_id = len(self._channels) + 1
            self._channels[channel_id] = ChannelInfo(channel_id, client, payee, deposit, 0, expires_at)
            return channel_id

    def redeemed(self, channel_id: int, total: int) -> None:
        with self._lock:
            self._channels[channel_id] = replace(self._channels[channel_id], redeemed=total)

    def channel(self, channel_id: int) -> ChannelInfo | None:
        return self._channels.get(channel_id)
