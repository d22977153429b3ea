"""Where a registry-following inferer goes (node/inferer/assignment.py): the neediest
adopted model, its weakest blocks, and one mover at a time."""

from __future__ import annotations

from eth_account import Account

from node.inferer.assignment import AdoptedModel, Assignment, Snapshot, choose, weakest_window
from node.swarm.records import ServerRecord, ServerState

SMOL = AdoptedModel("smollm2-135m-instruct", "Qm" + "S" * 44, 30)
GEMMA = AdoptedModel("gemma3-270m", "Qm" + "G" * 44, 18)
ADDR = sorted(Account.create().address for _ in range(4))  # ADDR[0] sorts first


def _record(model: AdoptedModel, address: str, start: int = 0, end: int | None = None,
            state: ServerState = ServerState.ONLINE, sessions: int = 0) -> ServerRecord:
    return ServerRecord(
        peer_id="Qm" + address[2:42].replace("0", "z"), address=address, model_id=model.model_id,
        state=state, start=start, end=end or model.num_blocks, throughput=10.0,
        cache_tokens_left=1000, sessions=sessions, dtype="float32", software_version="t",
        timestamp=1.0,
    )


def _snapshot(models: list[AdoptedModel], *records: ServerRecord) -> Snapshot:
    by_model: dict[str, dict[str, ServerRecord]] = {m.model_id: {} for m in models}
    for r in records:
        by_model[r.model_id][r.peer_id] = r
    return Snapshot(models, by_model)


def _at(model: AdoptedModel) -> Assignment:
    return Assignment(model.model_id, model.manifest_cid, 0, model.num_blocks)


def test_a_new_inferer_joins_the_neediest_model_on_its_weakest_blocks() -> None:
    snap = _snapshot([SMOL], _record(SMOL, ADDR[1], 0, 10), _record(SMOL, ADDR[2], 10, 20))
    assert choose(snap, ADDR[0], None, max_blocks=10) == Assignment(
        SMOL.model_id, SMOL.manifest_cid, 20, 30)


def test_a_newly_adopted_model_pulls_exactly_one_server() -> None:
    snap = _snapshot([SMOL, GEMMA], *(_record(SMOL, a) for a in ADDR[:3]))
    # only the designated mover (the lowest address) goes, so the herd stays
    assert choose(snap, ADDR[0], _at(SMOL)) == _at(GEMMA)
    assert choose(snap, ADDR[1], _at(SMOL)) is None
    assert choose(snap, ADDR[2], _at(SMOL)) is None


def test_nobody_moves_when_it_would_not_help() -> None:
    # 2 on SmolLM2, 1 on Gemma: moving one more would leave SmolLM2 as needy as Gemma is
    snap = _snapshot([SMOL, GEMMA], _record(SMOL, ADDR[0]), _record(SMOL, ADDR[1]),
                     _record(GEMMA, ADDR[2]))
    assert choose(snap, ADDR[0], _at(SMOL)) is None
    # the last server of a model never leaves it uncovered
    lonely = _snapshot([SMOL, GEMMA], _record(SMOL, ADDR[0]))
    assert choose(lonely, ADDR[0], _at(SMOL)) is None


def test_demand_weights_the_need() -> None:
    # 2 servers each, but SmolLM2 carries 30 open sessions: Gemma's spare server moves
    snap = _snapshot([SMOL, GEMMA], _record(SMOL, ADDR[0], sessions=15),
                     _record(SMOL, ADDR[1], sessions=15), _record(GEMMA, ADDR[2]),
                     _record(GEMMA, ADDR[3]))
    assert choose(snap, ADDR[2], _at(GEMMA)) == _at(SMOL)
    assert choose(snap, ADDR[0], _at(SMOL)) is None


def test_a_deprecated_model_s_servers_all_move() -> None:
    snap = _snapshot([SMOL], _record(SMOL, ADDR[2]))  # Gemma is no longer adopted
    assert choose(snap, ADDR[0], _at(GEMMA)) == _at(SMOL)
    assert choose(snap, ADDR[1], _at(GEMMA)) == _at(SMOL)


def test_draining_and_offline_servers_do_not_count() -> None:
    snap = _snapshot([SMOL, GEMMA], _record(SMOL, ADDR[0]), _record(SMOL, ADDR[1]),
                     _record(GEMMA, ADDR[2], state=ServerState.DRAINING))
    assert choose(snap, ADDR[0], _at(SMOL)) == _at(GEMMA)


def test_weakest_window_prefers_the_earliest_on_ties() -> None:
    assert weakest_window([1, 0, 0, 1, 0, 0], 2) == (1, 3)
    assert weakest_window([2, 2, 2], 5) == (0, 3)
