"""Adopted models reach the API without a restart.

``ModelDiscovery`` polls ModelRegistry's adopted models. For one the gateway does not
serve yet it fetches the model's client files (config, tokenizer, embeddings, head: no
blocks) over IPFS by the registry's manifest CID, verifies them like any fetch, and serves
the model through the swarm, where registry-following inferers cover its blocks
(node/inferer/follow.py). ``/v1/models`` lists only adopted models (``served_ids``), so a
deprecated model disappears from the API at the next catalog refresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from gateway.state import Gateway
from gateway.swarm_view import swarm_served_model
from node.chain.bindings import Models
from node.client.swarm_client import SwarmClient
from node.core.errors import HeliomeshError
from node.ipfs import IpfsError, IpfsStore, fetch_model

log = logging.getLogger(__name__)


class ModelDiscovery:
    def __init__(self, gateway: Gateway, swarm: SwarmClient, models: Models, store: IpfsStore,
                 cache_dir: Path, ipfs_peers: Sequence[str] = (), period_s: float = 5.0) -> None:
        # period_s: between two registry polls (one or two eth_calls each); the wait after an
        # adoption before the client files start to download (docs/benchmarks.md, issue #15)
        self.gateway = gateway
        self.swarm = swarm
        self.models = models
        self.store = store
        self.cache_dir = cache_dir
        self.ipfs_peers = list(ipfs_peers)
        self.period_s = period_s
        self.failed: dict[str, str] = {}  # model id → why it is not served (for logs/health)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> list[str]:
        """Serve every adopted model not served yet; returns the ids added."""
        added = []
        for model_id in self.models.adopted_models():
            if model_id in self.gateway.models:
                continue
            cid = str(self.models.model(model_id)["manifest_cid"])
            try:
                fetched = fetch_model(cid, self.store, self.cache_dir, client_files=True,
                                      peers=self.ipfs_peers)
                served = swarm_served_model(self.swarm, model_id, fetched.model_dir)
            except (IpfsError, HeliomeshError, OSError, ValueError) as exc:
                if self.failed.get(model_id) != str(exc):
                    log.warning("adopted model %s (manifest %s) is not served yet: %s",
                                model_id, cid, exc)
                self.failed[model_id] = str(exc)
                continue
            # route only through spans of the weights whose embeddings and head we hold
            self.swarm.manifest_cids[model_id] = cid
            self._add_gate(model_id, served.num_blocks)
            # rebind, not mutate: request handlers may be iterating the current dict
            self.gateway.models = {**self.gateway.models, model_id: served}
            self.failed.pop(model_id, None)
            added.append(model_id)
            log.info("serving newly adopted model %s (manifest %s, %d blocks)", model_id, cid,
                     served.num_blocks)
        return added

    def _add_gate(self, model_id: str, num_blocks: int) -> None:
        settings = self.gateway.settings
        if settings.energy_admission:
            from gateway.energy_gate import EnergyGate

            gate = EnergyGate(self.swarm, model_id, num_blocks, settings.energy_queue_s,
                              settings.energy_users_per_inferer)
            self.gateway.energy_gates = {**self.gateway.energy_gates, model_id: gate}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-discovery", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (HeliomeshError, OSError) as exc:  # the chain is away: try again later
                log.warning("model discovery: %s", exc)
            self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
