"""The live swarm dashboard's data, served by ``router``: ``GET /api/swarm`` (one
snapshot) and ``GET /api/swarm/events`` (SSE, a snapshot every ``interval`` seconds).

Per model: the servers and the blocks each covers, gaps in coverage, throughput, and per
inferer its energy, stake and reputation. Energy comes from the inferer's signed report
in its DHT record, verified (``gateway.swarm_view.SwarmDhtView``: state, headroom, battery,
capacity, local time; ``source`` "dht"), else from its latest report on the chain
(``source`` "chain"); stake and reputation from the chain (each only when its contract
is deployed; ``null`` otherwise). Servers come from a ``SwarmView``: ``LocalSwarmView``
reports the gateway's in-process spans, ``SwarmDhtView`` the swarm's DHT records. Per
model also the energy admission (``energy_admission``: ratio, sessions held, waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from fastapi import Request

from gateway.served_model import ServedModel
from gateway.state import Gateway
from node.crypto.eip712 import InfererState


class SwarmView(Protocol):
    def servers(self, gateway: Gateway, model: ServedModel) -> list[dict[str, Any]]: ...


class LocalSwarmView:
    """The spans this gateway runs itself; throughput = tokens of the last minute / 60."""

    def servers(self, gateway: Gateway, model: ServedModel) -> list[dict[str, Any]]:
        tps = gateway.metrics.tokens_per_minute() / 60.0
        return [
            {"server": s.server, "address": s.address or gateway.desk.payee, "start": s.start,
             "end": s.end, "state": s.state, "throughput_tps": round(tps, 2)}
            for s in model.spans
        ]


def coverage_gaps(num_blocks: int, servers: list[dict[str, Any]]) -> list[list[int]]:
    covered = [False] * num_blocks
    for s in servers:
        if s.get("state", "online") == "online":
            for b in range(max(0, s["start"]), min(num_blocks, s["end"])):
                covered[b] = True
    gaps, start = [], None
    for b, ok in enumerate([*covered, True]):
        if not ok and start is None:
            start = b
        elif ok and start is not None:
            gaps.append([start, b])
            start = None
    return gaps


def _chain_facts(gateway: Gateway, address: str) -> dict[str, Any]:
    """Stake, latest energy report and reputation of ``address``; None where unknown."""
    facts: dict[str, Any] = {"stake_wei": None, "energy": None, "reputation": None}
    chain = gateway.chain
    if chain is None:
        return facts
    helio = chain.helio()
    with contextlib.suppress(Exception):  # not registered / not deployed: shown as unknown
        if chain.has("StakingRegistry"):
            stake = helio.staking.stake_of(address)
            facts["stake_wei"] = str(stake.self_stake + stake.delegated_stake)
    with contextlib.suppress(Exception):
        if chain.has("EnergyAttestations"):
            report = helio.energy.latest(address)
            if report["timestamp"]:
                facts["energy"] = {
                    **report, "state": InfererState(report["state"]).name.lower(), "source": "chain",
                    "battery_soc": report["battery_soc_bps"] / 10_000 if report["battery_soc_bps"] else None,
                    "age_s": round(time.time() - report["timestamp"], 1)}
    with contextlib.suppress(Exception):
        if chain.has("Verification"):
            # lifetime spot-check counts (node/referee/spotcheck.py posts them) and the jail
            passed, failed = helio.verification.reputation_total(address)
            jailed = chain.has("StakingRegistry") and helio.staking.is_jailed(address)
            facts["reputation"] = {"passed": passed, "failed": failed, "jailed": jailed}
    return facts


def _view_for(gateway: Gateway, model: ServedModel) -> SwarmView:
    if gateway.swarm_view is not None:
        return gateway.swarm_view  # type: ignore[no-any-return]
    if model.swarm is not None:
        from gateway.swarm_view import SwarmDhtView

        return SwarmDhtView(model.swarm)
    return LocalSwarmView()


def snapshot(gateway: Gateway, view: SwarmView | None = None) -> dict[str, Any]:
    facts: dict[str, dict[str, Any]] = {}
    models = []
    for model_id in gateway.served_ids():
        model = gateway.models[model_id]
        servers = (view or _view_for(gateway, model)).servers(gateway, model)
        for s in servers:
            addr = s["address"]
            if addr not in facts:
                facts[addr] = _chain_facts(gateway, addr)
            live = s.get("energy")  # the verified DHT claim wins over the chain's (older) one
            s.update(facts[addr])
            if live is not None:
                s["energy"] = live
        gate = gateway.energy_gates.get(model_id)
        models.append({"id": model_id, "num_blocks": model.num_blocks, "servers": servers,
                       "gaps": coverage_gaps(model.num_blocks, servers),
                       "energy_admission": gate.describe() if gate is not None else None})
    return {
        "time": time.time(),
        "models": models,
        "metrics": gateway.metrics.snapshot(),
        "engine": {"active": gateway.generator.active, "completed": gateway.generator.completed},
        "chain": {"connected": gateway.chain is not None,
                  "chain_id": gateway.desk.domain.chain_id,
                  "stake": gateway.stakes.describe(), "models": gateway.catalog.describe()},
        "payments": {"on_chain": gateway.memory_channels is None,
                     "batches_redeemed": gateway.redeem_loop.batches,
                     "vouchers_redeemed": gateway.redeem_loop.vouchers_redeemed},
    }


async def snapshot_events(request: Request, gateway: Gateway, interval: float,
                          count: int | None) -> AsyncIterator[str]:
    """``data: {snapshot}`` every ``interval`` s until the client leaves (or ``count`` sent)."""
    sent = 0
    while count is None or sent < count:
        data = await asyncio.to_thread(snapshot, gateway)
        yield f"data: {json.dumps(data)}\n\n"
        sent += 1
        if await request.is_disconnected():
            return
        await asyncio.sleep(interval)
