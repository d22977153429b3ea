"""``helio node serve --follow-registry``: serve whichever adopted model needs this machine.

A ``Follower`` watches ModelRegistry and the DHT. Every ``period_s`` it takes a snapshot
(the adopted models with their manifests, the live records of each) and asks
``assignment.choose`` where this inferer should be. A move starts a child inferer
(``helio node serve --manifest-cid … --blocks a:b``, the follower's own options passed
through) that fetches only those blocks from IPFS, verifies them and announces; once the
child is online in the DHT the previous child is drained (SIGTERM: it finishes its
sessions, posts its offline report and leaves). The follower itself never restarts: when
a model is adopted, the swarm covers it; when one is deprecated, its servers move.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from node.chain.bindings import Models
from node.core.errors import HeliomeshError
from node.inferer.assignment import AdoptedModel, Assignment, Snapshot, choose
from node.ipfs import IpfsError, IpfsStore, fetch_manifest
from node.swarm.records import ServerRecord, ServerState

log = logging.getLogger(__name__)

RecordsFn = Callable[[str, int], dict[str, ServerRecord]]

# Options of `node serve` a child must not inherit: the follower chooses the span, and
# two children at once cannot share a metrics port or a peer identity.
_NOT_INHERITED = {"--follow-registry": 0, "--blocks": 1, "-b": 1, "--num-blocks": 1,
                  "--manifest-cid": 1, "--metrics-port": 1, "--identity": 1}


def fixed_ports(serve_argv: Sequence[str]) -> bool:
    """Whether the arguments pin a listen port (then two children cannot run at once)."""
    args = list(serve_argv)
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
        if name == "--port" and value not in ("", "0"):
            return True
        if name == "--ipfs-listen" and not value.endswith("/tcp/0"):
            return True
    return False


def child_args(serve_argv: Sequence[str]) -> list[str]:
    """The follower's ``node serve`` arguments that every child inferer gets too."""
    out: list[str] = []
    skip = 0
    for arg in serve_argv:
        if skip:
            skip -= 1
            continue
        name, eq, _ = arg.partition("=")
        if name in _NOT_INHERITED:
            skip = 0 if eq else _NOT_INHERITED[name]
            continue
        out.append(arg)
    return out


@dataclass
class FollowConfig:
    address: str  # this inferer's Ethereum address (the one its records are signed with)
    serve_args: list[str]  # passed to every child `helio node serve`
    cache_dir: Path
    ipfs_peers: list[str] = field(default_factory=list)
    period_s: float = 15.0
    max_blocks: int | None = None  # None: whole models
    online_timeout_s: float = 900.0  # fetch + load + announce of one move
    drain_timeout_s: float = 90.0
    # Fixed listen ports (--port N, --ipfs-listen …/tcp/N) cannot be bound by two children
    # at once: then the old one is released before the new one starts (a gap in serving).
    release_first: bool = False


@dataclass
class _Child:
    assignment: Assignment
    popen: subprocess.Popen[bytes]

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


class Follower:
    """Runs the moves; ``models``/``records``/``store`` are the chain, DHT and IPFS views."""

    def __init__(self, config: FollowConfig, models: Models, records: RecordsFn,
                 store: IpfsStore) -> None:
        self.config = config
        self.models = models
        self.records = records
        self.store = store
        self.child: _Child | None = None
        self._num_blocks: dict[str, int] = {}

    @property
    def current(self) -> Assignment | None:
        return self.child.assignment if self.child is not None else None

    def run(self, stop: threading.Event) -> None:
        log.info("following ModelRegistry as %s (every %.0f s)", self.config.address,
                 self.config.period_s)
        try:
            while not stop.is_set():
                try:
                    self.step(stop)
                except (HeliomeshError, OSError, TimeoutError) as exc:
                    log.warning("registry follower: %s (retrying in %.0f s)", exc,
                                self.config.period_s)
                stop.wait(self.config.period_s)
        finally:
            if self.child is not None:
                self._drain(self.child)

    def step(self, stop: threading.Event | None = None) -> Assignment | None:
        """One decision; returns the assignment moved to (None: stayed)."""
        if self.child is not None and not self.child.alive:
            log.error("the inferer for %s exited with %s; choosing again",
                      self.child.assignment.model_id, self.child.popen.returncode)
            self.child = None
        snapshot = self.snapshot()
        target = choose(snapshot, self.config.address, self.current, self.config.max_blocks)
        if target is None or target == self.current:
            return None
        return target if self.move(target, stop) else None

    def snapshot(self) -> Snapshot:
        adopted = []
        for model_id in self.models.adopted_models():
            cid = str(self.models.model(model_id)["manifest_cid"])
            adopted.append(AdoptedModel(model_id, cid, self._blocks_of(cid)))
        return Snapshot(adopted, {m.model_id: self.records(m.model_id, m.num_blocks)
                                  for m in adopted})

    def _blocks_of(self, cid: str) -> int:
        if cid not in self._num_blocks:
            try:
                manifest = fetch_manifest(cid, self.store, self.config.cache_dir,
                                          peers=self.config.ipfs_peers)
            except IpfsError as exc:
                raise HeliomeshError(f"cannot read the manifest {cid}: {exc}") from None
            self._num_blocks[cid] = manifest.num_blocks
        return self._num_blocks[cid]

    def move(self, target: Assignment, stop: threading.Event | None = None) -> bool:
        """Start the child for ``target``; once it is online, drain the previous one."""
        frm = (f"{self.current.model_id} {self.current.blocks}" if self.current else "nothing")
        log.info("moving from %s to %s blocks %s (manifest %s)", frm, target.model_id,
                 target.blocks, target.manifest_cid)
        started = time.monotonic()
        if self.config.release_first and self.child is not None:
            self._drain(self.child)
            self.child = None
        child = _Child(target, subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "node", "serve",
             "--manifest-cid", target.manifest_cid, "--blocks", target.blocks,
             *self.config.serve_args],
            env={**os.environ, "HELIO_PARENT_PID": str(os.getpid())},
        ))
        if not self._wait_online(child, stop):
            log.error("the inferer for %s blocks %s did not come online; staying on %s",
                      target.model_id, target.blocks, frm)
            self._drain(child)
            return False
        log.info("serving %s blocks %s, online %.1f s after the decision", target.model_id,
                 target.blocks, time.monotonic() - started)
        previous, self.child = self.child, child
        if previous is not None:
            self._drain(previous)
        return True

    def _wait_online(self, child: _Child, stop: threading.Event | None) -> bool:
        a = child.assignment
        deadline = time.monotonic() + self.config.online_timeout_s
        while time.monotonic() < deadline and child.alive:
            if stop is not None and stop.is_set():
                return False
            try:
                records = self.records(a.model_id, a.end)
            except (HeliomeshError, OSError, TimeoutError):
                records = {}
            if any(r.address == self.config.address and (r.start, r.end) == (a.start, a.end)
                   and r.state == ServerState.ONLINE for r in records.values()):
                return True
            time.sleep(1.0)
        return False

    def _drain(self, child: _Child) -> None:
        """SIGTERM: the inferer drains its sessions and posts its offline report."""
        if not child.alive:
            return
        log.info("releasing %s blocks %s", child.assignment.model_id, child.assignment.blocks)
        child.popen.send_signal(signal.SIGTERM)
        try:
            child.popen.wait(self.config.drain_timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("the inferer for %s did not stop in %.0f s; killing it",
                        child.assignment.model_id, self.config.drain_timeout_s)
            child.popen.kill()
            child.popen.wait(10)
