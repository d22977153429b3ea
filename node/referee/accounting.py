"""Contribution accounting (the referee's ledger, run by the gateway): work done per inferer
per epoch, turned into a signed Merkle root of (inferer, amount) the Payments contract
pays the gateway's own inferers' pool from (``postEpochRoot``, then each inferer ``claim``s).

Closing is two steps so a failed post loses nothing: ``draft`` shares the pool over the
work so far without touching the ledger; ``commit`` (after the chain's receipt) records
the epoch and takes exactly the drafted work off the ledger (work recorded meanwhile
stays for the next epoch).

Work is counted in block-tokens: a generation that ran ``t`` tokens (prompt + completion)
through a span of ``b`` blocks credits that span's inferer ``t × b``. At the end of an
epoch the pool (token wei) is shared pro rata to work, rounded down.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct

from node.chain.merkle import RewardTree


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    work: dict[str, int]  # inferer address → block-tokens
    amounts: list[tuple[str, int]]  # (inferer, token wei) leaves
    total: int
    root: bytes
    signer: str | None = None
    signature: bytes | None = None
    tx: str | None = None  # postEpochRoot transaction
    chain_epoch: int | None = None  # the epoch id the Payments contract gave it
    payee: str | None = None  # whose pool it spent (the gateway's payee address)
    opens_at: int | None = None  # unix seconds from which its claims are accepted

    def proof(self, account: str) -> list[bytes]:
        return reward_tree(self.amounts).proof(account)

    def as_dict(self) -> dict[str, object]:
        return {
            "epoch": self.epoch,
            "work": self.work,
            "amounts": [{"account": a, "amount": str(n)} for a, n in self.amounts],
            "total": str(self.total),
            "root": "0x" + self.root.hex(),
            "signer": self.signer,
            "signature": "0x" + self.signature.hex() if self.signature else None,
            "tx": self.tx,
            "chain_epoch": self.chain_epoch,
            "payee": self.payee,
            "opens_at": self.opens_at,
        }


def reward_tree(amounts: list[tuple[str, int]]) -> RewardTree:
    """The Merkle tree of an epoch's (inferer, amount) leaves (a zero leaf only when every
    share rounded down to 0: such an epoch is never posted)."""
    return RewardTree(dict(amounts), allow_zero=True)


def epoch_message(epoch: int, root: bytes, total: int) -> str:
    return f"Heliomesh contribution epoch {epoch} root 0x{root.hex()} total {total}"


class ContributionLedger:
    def __init__(self, epoch_s: float, started: float | None = None) -> None:
        self.epoch_s = epoch_s
        self.started = time.time() if started is None else started
        self.epoch = 0
        self.work: Counter[str] = Counter()
        self.closed: list[EpochRecord] = []
        # issue #13: work of an inferer under an open fraud claim waits in the ledger until
        # the claim is cleared (e.g. Staking.is_frozen); a slashed one's (e.g.
        # Staking.is_jailed: a slash releases the freeze and jails) is forfeited at the close
        self.disputed: Callable[[str], bool] = lambda address: False
        self.slashed: Callable[[str], bool] = lambda address: False

    def record(self, spans: list[tuple[str, int]], tokens: int) -> None:
        """``spans``: (inferer address, blocks served) of the route a generation used."""
        for address, blocks in spans:
            self.work[address] += tokens * blocks

    def due(self, now: float | None = None) -> bool:
        return (now or time.time()) >= self.started + (self.epoch + 1) * self.epoch_s

    def draft(self, pool_wei: int) -> EpochRecord | None:
        """The current epoch shared out (``pool_wei`` pro rata to work, rounded down),
        unsigned and not yet recorded; None if nobody worked. The work of slashed inferers
        is forfeited first (for good: a failed post must not give it back)."""
        for address in [a for a in self.work if self.slashed(a)]:
            self.forfeit(address)
        work = {a: w for a, w in self.work.items() if w > 0 and not self.disputed(a)}
        total_work = sum(work.values())
        if total_work == 0:
            return None
        amounts = [(a, pool_wei * w // total_work) for a, w in sorted(work.items())]
        amounts = [(a, n) for a, n in amounts if n > 0] or [(a, 0) for a, _ in amounts[:1]]
        total = sum(n for _, n in amounts)
        return EpochRecord(self.epoch, work, amounts, total, reward_tree(amounts).root)

    def commit(self, record: EpochRecord | None) -> None:
        """Record ``record`` (a ``draft`` of this epoch, maybe signed and posted since) and
        start the next epoch; None: nobody worked, only the epoch number moves on."""
        self.epoch += 1
        if record is None:
            return
        self.work.subtract(record.work)
        self.work = +self.work  # drop the inferers whose work was all paid
        self.closed.append(record)

    def forfeit(self, address: str) -> None:
        """A slashed inferer's unpaid work: dropped, its share stays in the pool."""
        self.work.pop(address, None)

    def close(self, pool_wei: int, referee_key: str | None = None) -> EpochRecord | None:
        """Off-chain close: draft, sign (EIP-191 ``epoch_message``) and commit at once."""
        record = self.draft(pool_wei)
        if record is not None and referee_key is not None:
            account = Account.from_key(referee_key)
            message = encode_defunct(text=epoch_message(record.epoch, record.root, record.total))
            signature = bytes(account.sign_message(message).signature)
            record = dataclasses.replace(record, signer=account.address, signature=signature)
        self.commit(record)
        return record
