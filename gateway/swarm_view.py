"""Serving over the swarm: routes from a ``SwarmClient`` (DHT discovery, the referee's
route planner, server-to-server push, failover) and the dashboard's view of the DHT
(spans, states and each inferer's verified energy claim).

The gateway embeds the client: the model's client part (tokenizer, embeddings, head) is
loaded here, the blocks run on the inferers found in the DHT.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway.served_model import ServedModel
from node.client import ClientModel
from node.client.swarm_client import SwarmClient
from node.referee.energy import EnergyClaim


def swarm_served_model(client: SwarmClient, model_id: str, model_dir: Path) -> ServedModel:
    """``model_id`` served through the swarm: each generation opens a fresh ``SwarmRoute``."""
    local = ClientModel(model_dir)
    num_blocks, hidden = local.manifest.num_blocks, int(local.config.hidden_size)
    return ServedModel(model_id, local, lambda: client.route(model_id, num_blocks, hidden), num_blocks, [],
                       swarm=client)


def energy_row(claim: EnergyClaim, now: float, max_age_s: float) -> dict[str, Any]:
    """A verified energy claim as the dashboard shows it (``source`` "dht")."""
    offset = claim.utc_offset_h
    local = None
    if offset is not None:  # the inferer's energy clock (an accelerated trace's time in the demo)
        t = claim.clock_time if claim.clock_time is not None else claim.timestamp
        local = time.strftime("%H:%M", time.gmtime(t + offset * 3600.0))
    return {
        "source": "dht", "verified": True, "state": claim.state.label,
        "headroom_w": round(claim.headroom_w), "available_w": round(claim.available_w),
        "battery_soc": claim.battery_soc, "capacity": claim.capacity, "sessions": claim.sessions,
        "utc_offset_h": offset, "local_time": local, "age_s": round(now - claim.timestamp, 1),
        "stale": now - claim.timestamp > max_age_s,
    }


class SwarmDhtView:
    """The dashboard's servers: the DHT records of the model (validated, signed), each
    with its energy from the signed report in its record, verified as the router does
    (``energy`` null without one; ``energy_rejected`` says why an unverified one is
    ignored)."""

    def __init__(self, client: SwarmClient) -> None:
        self.client = client

    def servers(self, gateway: Any, model: ServedModel) -> list[dict[str, Any]]:
        records = self.client.records(model.model_id, model.num_blocks)
        energy = self.client.energy
        claims = {c.inferer.lower(): c for c in energy.observe(records.values())}
        now = time.time()
        max_age = energy.scheduler.config.max_age_s
        rows = []
        for r in sorted(records.values(), key=lambda r: (r.start, r.end, r.peer_id)):
            claim = claims.get(r.address.lower())
            rows.append({
                "server": r.peer_id[-10:], "peer_id": r.peer_id, "address": r.address, "start": r.start,
                "end": r.end, "state": r.state.value, "throughput_tps": round(r.throughput, 2),
                "sessions": r.sessions, "region": r.region, "relayed": r.relayed,
                "energy": energy_row(claim, now, max_age) if claim is not None else None,
                "energy_rejected": energy.rejected.get(r.peer_id) if r.energy is not None else None,
            })
        return rows
