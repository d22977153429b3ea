"""Which adopted model, and which blocks of it, a registry-following inferer serves.

Pure decisions over a snapshot (the adopted models from ModelRegistry, the DHT records
of each): ``choose`` picks the model whose weakest block has the fewest servers per unit
of demand, and within it the window of blocks with the fewest servers. Every follower
sees about the same snapshot, so a move is decided by a rule they all agree on: of the
servers of the model that has servers to spare, only the one with the lowest address
moves, and only when the move helps (the target stays needier than what it leaves), so
one new model pulls one inferer at a time instead of the whole herd.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from node.swarm.records import ServerRecord, ServerState

LIVE_STATES = frozenset({ServerState.JOINING, ServerState.LOADING, ServerState.ONLINE})


@dataclass(frozen=True)
class AdoptedModel:
    model_id: str
    manifest_cid: str
    num_blocks: int


@dataclass(frozen=True)
class Assignment:
    model_id: str
    manifest_cid: str
    start: int
    end: int

    @property
    def blocks(self) -> str:
        return f"{self.start}:{self.end}"


@dataclass(frozen=True)
class Snapshot:
    """Adopted models and the live records of each (peer id → record)."""

    models: list[AdoptedModel]
    records: Mapping[str, Mapping[str, ServerRecord]]

    def coverage(self, model: AdoptedModel, without: str | None = None) -> list[int]:
        """Live servers per block; ``without``: as if that address had left."""
        per_block = [0] * model.num_blocks
        for r in self.records.get(model.model_id, {}).values():
            if r.state in LIVE_STATES and r.address != without:
                for b in range(r.start, min(r.end, model.num_blocks)):
                    per_block[b] += 1
        return per_block

    def demand(self, model: AdoptedModel) -> float:
        """Open sessions over the model's servers, + 1 so an idle model still counts."""
        records = self.records.get(model.model_id, {}).values()
        return 1.0 + sum(r.sessions for r in records if r.state in LIVE_STATES)

    def need(self, model: AdoptedModel, without: str | None = None) -> float:
        """Servers on the weakest block per unit of demand: lower is needier."""
        return min(self.coverage(model, without), default=0) / self.demand(model)

    def addresses(self, model_id: str) -> list[str]:
        return sorted({r.address for r in self.records.get(model_id, {}).values()
                       if r.state in LIVE_STATES})


def weakest_window(coverage: list[int], length: int) -> tuple[int, int]:
    """The ``length`` consecutive blocks with the fewest servers (the earliest on ties)."""
    length = max(1, min(length, len(coverage)))
    best = min(range(len(coverage) - length + 1),
               key=lambda s: (sum(coverage[s:s + length]), s))
    return best, best + length


def choose(snapshot: Snapshot, me: str, current: Assignment | None,
           max_blocks: int | None = None) -> Assignment | None:
    """Where ``me`` (an inferer address) should serve next; None: stay where it is.

    ``max_blocks``: the most blocks this machine holds (None: a whole model)."""
    if not snapshot.models:
        return None
    by_id = {m.model_id: m for m in snapshot.models}
    here = by_id.get(current.model_id) if current is not None else None
    if current is not None and here is not None:
        others = [m for m in snapshot.models if m.model_id != here.model_id]
        if not others or not _designated_mover(snapshot, here, me):
            return None
        target = min(others, key=lambda m: (snapshot.need(m), m.model_id))
        left_behind = snapshot.coverage(here, without=me)
        # Move only when it helps: the model left keeps a server on every block and stays
        # less needy than the target is now.
        if min(left_behind) < 1 or snapshot.need(here, without=me) <= snapshot.need(target):
            return None
    else:  # first start, or the model served was deprecated: go where the need is
        target = min(snapshot.models, key=lambda m: (snapshot.need(m), m.model_id))
    start, end = weakest_window(snapshot.coverage(target, without=me),
                                max_blocks or target.num_blocks)
    return Assignment(target.model_id, target.manifest_cid, start, end)


def _designated_mover(snapshot: Snapshot, model: AdoptedModel, me: str) -> bool:
    addresses = snapshot.addresses(model.model_id)
    return bool(addresses) and addresses[0] == me


def adopted_models(entries: Iterable[tuple[str, str, int]]) -> list[AdoptedModel]:
    return [AdoptedModel(model_id, cid, n) for model_id, cid, n in entries]
