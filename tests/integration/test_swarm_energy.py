"""Energy on a real swarm: `helio node serve --energy ...` processes announce signed
energy reports in their DHT records; the client verifies them and routes to the one
with more headroom; an energy-enforced trace inferer started at local noon goes online."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.client.swarm_route import SwarmClient
from node.energy.state import InfererState
from node.swarm.local import LocalSwarm

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "smollm2-135m-instruct"
FIXED = ["--energy", "fixed", "--no-energy-enforce", "--throughput", "100"]


def test_route_prefers_the_inferer_with_more_headroom(smollm2_dir: Path, tmp_path: Path) -> None:
    with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=2) as swarm:
        swarm.start_bootstrap()
        low = swarm.start_inferer((0, 30), dev_key=1, wait=False, extra_args=[*FIXED, "--energy-watts", "400"])
        high = swarm.start_inferer((0, 30), dev_key=2, wait=False, extra_args=[*FIXED, "--energy-watts", "1500"])
        trace = swarm.start_inferer((0, 30), dev_key=3, wait=False, extra_args=[
            "--energy", "trace", "--clock-speed", "120", "--energy-enforce", "--throughput", "100"])
        swarm.wait_ready()
        with SwarmClient(swarm.initial_peers) as client:
            records = client.records(MODEL, 30)
            assert {low.peer_id, high.peer_id, trace.peer_id} <= set(records)
            claims = {c.inferer: c for c in client.energy.observe(records.values())}
            by_peer = {p: claims[records[p].address] for p in (low.peer_id, high.peer_id, trace.peer_id)}
            assert all(c.state is InfererState.ONLINE for c in by_peer.values()), by_peer
            # fixed: available power minus the idle draw (120 W)
            assert by_peer[high.peer_id].headroom_w == 1380
            assert by_peer[low.peer_id].headroom_w == 280
            assert by_peer[trace.peer_id].battery_soc is not None  # the trace home has a battery
            assert by_peer[trace.peer_id].capacity > 0
            hops = client.wait_for_coverage(MODEL, 30)
            # The score also counts battery and sun left at the wall-clock time of day, so
            # the sunlit trace home may outrank the fixed 1500 W one: the route must go to
            # whichever the energy score ranks first, and 1380 W must beat 280 W.
            penalties = {p: client.energy.penalty(records[p]) for p in (low.peer_id, high.peer_id, trace.peer_id)}
            assert [h.peer_id for h in hops] == [min(penalties, key=penalties.__getitem__)], penalties
            assert penalties[high.peer_id] < penalties[low.peer_id]
