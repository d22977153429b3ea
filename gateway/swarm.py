"""Serving over the swarm: routes from a ``SwarmClient`` (DHT discovery, the referee's
route planner, server-to-server push, failover) and the dashboard's view of the DHT.

The gateway embeds the client: the model's client part (tokenizer, embeddings, head) is
loaded here, the blocks run on the inferers found in the DHT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.routes import ServedModel
from node.client import ClientModel
from node.client.swarm_route import SwarmClient


def swarm_served_model(client: SwarmClient, model_id: str, model_dir: Path) -> ServedModel:
    """``model_id`` served through the swarm: each generation opens a fresh ``SwarmRoute``."""
    local = ClientModel(model_dir)
    num_blocks, hidden = local.manifest.num_blocks, int(local.config.hidden_size)
    return ServedModel(model_id, local, lambda: client.route(model_id, num_blocks, hidden), num_blocks, [],
                       swarm=client)


class SwarmDhtView:
    """The dashboard's servers: the DHT records of the model (validated, signed)."""

    def __init__(self, client: SwarmClient) -> None:
        self.client = client

    def servers(self, gateway: Any, model: ServedModel) -> list[dict[str, Any]]:
        records = self.client.records(model.model_id, model.num_blocks)
        return [
            {"server": r.peer_id[-10:], "peer_id": r.peer_id, "address": r.address, "start": r.start,
             "end": r.end, "state": r.state.value, "throughput_tps": round(r.throughput, 2),
             "sessions": r.sessions, "region": r.region, "relayed": r.relayed}
            for r in sorted(records.values(), key=lambda r: (r.start, r.end, r.peer_id))
        ]
