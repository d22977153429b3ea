"""What a finished route hands its client's referee: one ``HopRecord`` per hop session
(the inputs the client sent in their chunks, the commitments it got back)."""

from __future__ import annotations

from typing import Protocol

from hivemind.proto import runtime_pb2

from node.client.swarm_config import ClientConfig
from node.referee.audit import HopRecord
from node.swarm.evidence import StepEvidence


class RouteLog(Protocol):
    """What ``hop_records`` reads of a ``SwarmRoute``."""

    model_id: str
    num_blocks: int
    max_length: int
    config: ClientConfig
    chunks: list[tuple[int, int]]
    inputs: dict[int, dict[int, runtime_pb2.Tensor]]
    evidence: list[StepEvidence]


def hop_records(route: RouteLog) -> list[HopRecord]:
    """One record per hop session whose commitments cover steps 0..n without a gap
    (a session opened by a failover replays from step 0, so it qualifies too)."""
    sessions: dict[str, list[StepEvidence]] = {}
    for evidence in route.evidence:
        sessions.setdefault(evidence.session_id, []).append(evidence)
    records = []
    for items in sessions.values():
        by_step = {e.step: e for e in items}  # a recomputed step: its last answer
        steps = sorted(by_step)
        first = items[0]
        inputs = route.inputs.get(first.start, {})
        if steps != list(range(len(steps))) or any(s not in inputs for s in steps):
            continue
        records.append(HopRecord(
            model_id=route.model_id, num_blocks=route.num_blocks, start=first.start, end=first.end,
            wire_dtype=route.config.wire_dtype, codec=route.config.codec, max_length=route.max_length,
            chunks=tuple(route.chunks[: len(steps)]), inputs=tuple(inputs[s] for s in steps),
            evidence=tuple(by_step[s] for s in steps)))
    return records
