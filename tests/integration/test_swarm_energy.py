"""Energy on a real swarm: `helio node serve --energy ...` processes announce signed
energy reports in their DHT records; the client verifies them and routes to the one
with more headroom; an energy-enforced trace inferer started at local noon goes online."""

from __future__ import annotations

from pathlib import Path

import pytest
from swarmkit import helio_status

from node.client.swarm_client import SwarmClient
from node.energy.state import InfererState
from node.harness.swarm import LocalSwarm

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
            # The score also counts battery and sun left (the trace home's accelerated day
            # starts at local noon; the fixed ones have no zone), so the trace home may
            # outrank the fixed 1500 W one, or tie with it (both cap the headroom term;
            # then the measured RTTs decide): the route must go to
            # one the energy score ranks first (within 5 ms of penalty), never to the 280 W
            # one, and 1380 W must beat 280 W by the energy score alone.
            penalties = {p: client.energy.penalty(records[p]) for p in (low.peer_id, high.peer_id, trace.peer_id)}
            assert len(hops) == 1 and hops[0].peer_id != low.peer_id, penalties
            assert penalties[hops[0].peer_id] <= min(penalties.values()) + 5.0, penalties
            assert penalties[low.peer_id] - penalties[high.peer_id] >= 20.0, penalties
        # `helio status` shows the same verified energy to an operator.
        status = helio_status(swarm.initial_peers)
    energy = {s["peer_id"]: s["energy"] for s in status["servers"]}
    assert energy[high.peer_id]["verified"] and energy[high.peer_id]["headroom_w"] == 1380
    assert energy[low.peer_id]["headroom_w"] == 280 and energy[low.peer_id]["state"] == "online"
    assert energy[trace.peer_id]["battery_soc"] is not None


@pytest.mark.chain
def test_inferer_posts_attestations_and_clients_check_the_registered_key(smollm2_dir: Path, tmp_path: Path) -> None:
    """`helio node serve --rpc-url ... --energy trace`: the inferer registers its attestation
    key, signs its DHT reports under the deployed EnergyAttestations domain and posts them
    itself (state changes + once per simulated hour); a chain-backed client verifies them
    against attestationKeyOf; SIGTERM posts `offline` and the process exits promptly."""
    import os
    import signal
    import time

    from node.chain import Anvil, connect, deploy_all, ensure_compiled
    from node.chain.bindings import HelioChain
    from node.chain.devkeys import DEV_ACCOUNTS
    from node.client.swarm_client import swarm_client
    from node.referee.energy_keys import AttestationKeys

    ensure_compiled()
    deployments = tmp_path / "deployments"
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=anvil.chain_id)
        deploy_all(w3, DEV_ACCOUNTS[0].private_key, "local", directory=deployments)
        chain = HelioChain.open(w3, "local", None, deployments)
        with LocalSwarm(smollm2_dir, tmp_path / "logs", refresh_s=2, rpc_url=anvil.rpc_url,
                        extra_env={"HELIO_DEPLOYMENTS_DIR": str(deployments)}) as swarm:
            swarm.start_bootstrap()
            proc = swarm.start_inferer((0, 30), dev_key=4, extra_args=[
                "--energy", "trace", "--clock-speed", "600", "--trace-date", "march-equinox",
                "--no-energy-enforce", "--attest-interval", "3600", "--throughput", "100"])
            me = DEV_ACCOUNTS[4].address
            assert chain.staking.c.functions.attestationKeyOf(me).call() == me
            started = time.monotonic()
            with swarm_client(swarm.initial_peers, chain=chain) as client:
                assert isinstance(client.energy.key_of, AttestationKeys)
                claims = client.energy.observe(client.records(MODEL, 30).values())
                assert [(c.inferer, c.state) for c in claims] == [(me, InfererState.ONLINE)]
                # An operator's `helio status`: with the chain its report verifies against
                # the registered key; without one it is shown as unverified (other domain).
                on_chain = helio_status(swarm.initial_peers, "--rpc-url", anvil.rpc_url, "--network", "local",
                                   HELIO_DEPLOYMENTS_DIR=str(deployments))
                (energy,) = [s["energy"] for s in on_chain["servers"]]
                assert energy["verified"] and energy["inferer"] == me, energy
                assert on_chain["servers"][0]["stake_wei"] == str(chain.staking.min_stake())  # the stake column
                (energy,) = [s["energy"] for s in helio_status(swarm.initial_peers)["servers"]]
                assert not energy["verified"] and "signed by" in energy["why"], energy
                time.sleep(max(0.0, 15 - (time.monotonic() - started)))  # 15 s at 600x: 2.5 simulated hours
            events = chain.energy.c.events.EnergyReported().get_logs(from_block=0)
            states = [e.args.state for e in events]
            hours = (time.monotonic() - started) * 600 / 3600
            # loading + online on the way up, then one periodic post per simulated hour
            assert states[:2] == [InfererState.LOADING, InfererState.ONLINE], states
            assert 2 + int(hours) - 1 <= len(states) <= 2 + int(hours) + 1, (states, hours)
            assert chain.energy.latest(me)["state"] == InfererState.ONLINE
            # SIGTERM to the serve process alone (its p2pd stays up, as under a supervisor):
            # it drains, posts `offline`, announces it and exits cleanly.
            assert proc.popen is not None
            t0 = time.monotonic()
            os.kill(proc.popen.pid, signal.SIGTERM)
            assert proc.popen.wait(30) == 0 and time.monotonic() - t0 < 15
            assert chain.energy.latest(me)["state"] == InfererState.OFFLINE
