"""The payment desk's durable books: one SQLite file (WAL) per payee.

What a SIGKILLed gateway must not forget is written here before the response that
depends on it is served: the latest voucher of each channel and the totals it was
accepted for, charged and redeemed at, and each paid request still running (its
reservation and how much of it was already served). On restart, a request that was
running when the process died is charged what it had served (``served``, written
as the stream goes) and nothing more; ``PaymentDesk`` reads the rest back.

One process owns a desk file: ``DeskStore`` takes an exclusive ``flock`` on
``<file>.lock`` (released by the kernel when the process dies, even by SIGKILL), and a
second gateway on the same file refuses to start (docs/gateway.md#one-desk-per-payee).

Amounts are token wei, up to 2**128: stored as decimal TEXT (SQLite integers stop at
2**63). ``synchronous=NORMAL``: a committed write survives the process being killed; a
power loss may drop the last few (``HELIO_GATEWAY_DESK_FSYNC=true`` syncs every write).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from node.core.errors import ConfigError
from node.core.settings import Settings

if TYPE_CHECKING:
    from gateway.chain_link import ChainLink

MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS channels (
    channel  INTEGER PRIMARY KEY,
    accepted TEXT NOT NULL,   -- highest cumulativeAmount accepted
    charged  TEXT NOT NULL,   -- actual cost of finished requests (+ served part of crashed ones)
    redeemed TEXT NOT NULL,   -- amount last redeemed on-chain
    latest   TEXT,            -- the latest voucher, X-Helio-Voucher encoding
    aside    TEXT             -- why the last redemption of this voucher was set aside
);
CREATE TABLE IF NOT EXISTS tickets (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    channel  INTEGER NOT NULL,
    reserved TEXT NOT NULL,   -- the request's worst case
    served   TEXT NOT NULL    -- cost of what was already sent to the client
);
"""


@dataclass
class StoredChannel:
    channel: int
    accepted: int
    charged: int
    redeemed: int
    latest: str | None
    aside: str | None


class DeskStore:
    def __init__(self, path: str | Path = MEMORY, fsync: bool = False) -> None:
        self.path = str(path)
        self._lock_file: IO[bytes] | None = None
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = _exclusive(Path(self.path + ".lock"))
        # One connection shared by the event loop and the redeem thread, behind a lock.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._mutex = threading.Lock()
        with self._mutex:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._mutex:
            self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock

    def _write(self, *statements: tuple[str, tuple[object, ...]]) -> int | None:
        """Run ``statements`` in one transaction; the last row id inserted."""
        with self._mutex:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    cur.execute(sql, args)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            return cur.lastrowid

    def channels(self) -> list[StoredChannel]:
        with self._mutex:
            rows = self._db.execute(
                "SELECT channel, accepted, charged, redeemed, latest, aside FROM channels").fetchall()
        return [StoredChannel(c, int(a), int(ch), int(r), latest, aside) for c, a, ch, r, latest, aside in rows]

    def accept(self, channel: int, accepted: int, charged: int, redeemed: int, latest: str,
               reserved: int) -> int:
        """A voucher was accepted and a request admitted under it: the channel's new state
        and the request's reservation, in one transaction. The ticket's id."""
        ticket = self._write(
            ("INSERT INTO channels(channel, accepted, charged, redeemed, latest, aside) "
             "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(channel) DO UPDATE SET "
             "accepted=excluded.accepted, latest=excluded.latest, aside=NULL",
             (channel, str(accepted), str(charged), str(redeemed), latest)),
            ("INSERT INTO tickets(channel, reserved, served) VALUES (?, ?, '0')", (channel, str(reserved))),
        )
        assert ticket is not None
        return ticket

    def served(self, ticket: int, cost: int) -> None:
        """How much of a running request was sent to the client so far."""
        self._write(("UPDATE tickets SET served=? WHERE id=?", (str(cost), ticket)))

    def settle(self, ticket: int, channel: int, charged: int) -> None:
        """The request is over: the channel's charged total, and the ticket is gone."""
        self._write(("UPDATE channels SET charged=? WHERE channel=?", (str(charged), channel)),
                    ("DELETE FROM tickets WHERE id=?", (ticket,)))

    def redeemed(self, channel: int, redeemed: int, aside: str | None = None) -> None:
        self._write(("UPDATE channels SET redeemed=?, aside=? WHERE channel=?", (str(redeemed), aside, channel)))

    def set_aside(self, channel: int, reason: str) -> None:
        self._write(("UPDATE channels SET aside=? WHERE channel=?", (reason, channel)))

    def recover(self) -> int:
        """Charge each request the last process left running what it had served, and drop
        its reservation (it will never finish). How many requests that was."""
        with self._mutex:
            orphans = self._db.execute("SELECT id, channel, reserved, served FROM tickets").fetchall()
            charged = dict(self._db.execute("SELECT channel, charged FROM channels").fetchall())
        add: dict[int, int] = {}
        for _, channel, reserved, served in orphans:
            add[channel] = add.get(channel, 0) + min(int(served), int(reserved))
        self._write(*[("UPDATE channels SET charged=? WHERE channel=?",
                       (str(int(charged[c]) + extra), c)) for c, extra in add.items()],
                    ("DELETE FROM tickets", ()))
        return len(orphans)


def default_desk_path(chain: ChainLink, payee: str, cache_dir: Path | None = None) -> Path:
    """``<cache_dir>/desk/<payee>-<Payments>-<hash of its deploy block>.sqlite``: one file per
    payee and deployment; the block hash tells apart two local chains that deployed the
    same addresses (anvil is deterministic), so a new chain never inherits old books."""
    payments = chain.deployment.contracts["Payments"]
    block = chain.w3.eth.get_block(payments.block_number)["hash"]
    name = f"{payee}-{payments.address}-{bytes(block).hex()[:16]}.sqlite"
    return (cache_dir or Settings().cache_dir) / "desk" / name


def _exclusive(lock_path: Path) -> IO[bytes]:
    f = open(lock_path, "ab")  # noqa: SIM115 (held open for the process's life)
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise ConfigError(
            f"another gateway process (same payee) already holds the payment desk {lock_path.with_suffix('')}; "
            "run one gateway process per payee key, or give this one its own key and desk "
            "(docs/gateway.md#one-desk-per-payee)") from None
    f.truncate(0)
    f.write(str(os.getpid()).encode())
    f.flush()
    return f
