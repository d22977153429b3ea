"""The swarm's DHT: announce a server's record under each block it serves, and read
back every valid record for a model.

Keys are ``"{model_id}.{block}"`` (ARCHITECTURE.md §6); the subkey is the server's peer
id, so each block key holds one entry per server and entries expire on their own when a
server stops refreshing them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hivemind.dht.node import DHTNode
from hivemind.utils import get_dht_time

from node.swarm.errors import RecordError, short_peer
from node.swarm.records import MAX_BLOCKS, ServerRecord, ServerState, parse_record

log = logging.getLogger(__name__)


def block_key(model_id: str, block: int) -> str:
    return f"{model_id}.{block}"


class SwarmDHT:
    """Announcements over a hivemind ``DHTNode`` (which may run in client mode)."""

    def __init__(self, node: DHTNode) -> None:
        self.node = node
        self._logged_bad: set[bytes] = set()  # log each rejected value once

    async def announce(self, model_id: str, blocks: Iterable[int], peer_id: str,
                       value: bytes, ttl_s: float) -> bool:
        """Store ``value`` (a signed record) under every block; True if all stores worked."""
        expiration = get_dht_time() + ttl_s
        keys = [block_key(model_id, block) for block in blocks]
        results = await self.node.store_many(
            keys, [value] * len(keys), expiration, subkeys=[peer_id] * len(keys)
        )
        return all(results.values())

    async def fetch(self, model_id: str, num_blocks: int) -> dict[str, ServerRecord]:
        """Every valid, unexpired record for ``model_id``'s blocks ``[0, num_blocks)``, one
        per peer (the newest). Invalid entries are logged once and ignored."""
        if not 0 < num_blocks <= MAX_BLOCKS:
            raise ValueError(f"num_blocks must be in 1..{MAX_BLOCKS}, got {num_blocks}")
        keys = [block_key(model_id, block) for block in range(num_blocks)]
        # The first unexpired copy of each key (nodes merge the subkeys they are sent).
        # Not sufficient_expiration_time=inf: in hivemind 1.1.12 that search returns
        # nothing for a while after one peer stops answering (seen with a SIGSTOPped peer).
        found = await self.node.get_many(keys)
        records: dict[str, ServerRecord] = {}
        for block, key in enumerate(keys):
            entry = found.get(key)
            if entry is None or not isinstance(entry.value, dict):
                continue
            for subkey, item in entry.value.items():
                try:
                    record = parse_record(item.value, model_id=model_id, block=block, subkey=subkey)
                except RecordError as exc:
                    self._log_bad(item.value, key, subkey, exc)
                    continue
                known = records.get(record.peer_id)
                if known is None or record.timestamp > known.timestamp:
                    records[record.peer_id] = record
        return records

    def _log_bad(self, value: object, key: str, subkey: object, exc: RecordError) -> None:
        marker = value if isinstance(value, bytes) else repr(value).encode()
        if marker in self._logged_bad:
            return
        if len(self._logged_bad) > 10_000:
            self._logged_bad.clear()
        self._logged_bad.add(marker)
        who = short_peer(subkey) if isinstance(subkey, str) else repr(subkey)[:40]
        log.warning("ignoring an invalid DHT record at %s from %s: %s", key, who, exc)


def coverage(records: dict[str, ServerRecord], num_blocks: int,
             states: tuple[ServerState, ...] = (ServerState.ONLINE,)) -> list[list[str]]:
    """For each block, the peers in ``states`` that serve it."""
    table: list[list[str]] = [[] for _ in range(num_blocks)]
    for record in records.values():
        if record.state in states:
            for block in record.blocks:
                if block < num_blocks:
                    table[block].append(record.peer_id)
    return table


def gaps(records: dict[str, ServerRecord], num_blocks: int) -> list[int]:
    """Blocks that no online server covers."""
    return [b for b, peers in enumerate(coverage(records, num_blocks)) if not peers]
