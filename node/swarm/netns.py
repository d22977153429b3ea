"""Test network namespaces: a namespace joined to this one by a veth pair, optionally
with a ``tbf`` upload cap — simulated geography beside ``delay.py`` (this kernel has no
``netem``). Only for tests and benchmarks that create their own namespaces (needs root
and iproute2); traffic stays on the veth pair.

    with Namespace("helio-geo", index=1, upload_mbit=4) as ns:
        # ns.root_ip is this side (10.78.1.1), ns.ns_ip the namespace side (10.78.1.2)
        swarm.start_inferer((20, 30), netns=ns.name, extra_args=["--host", ns.ns_ip])
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from node.core.errors import ConfigError


def available() -> str | None:
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    return None


@dataclass
class Namespace:
    name: str
    index: int = 1  # picks the subnet 10.78.<index>.0/24
    upload_mbit: float | None = None  # tbf cap on traffic leaving the namespace

    @property
    def root_ip(self) -> str:
        return f"10.78.{self.index}.1"

    @property
    def ns_ip(self) -> str:
        return f"10.78.{self.index}.2"

    @property
    def _veth(self) -> tuple[str, str]:
        return f"hr{self.index}-{self.name}"[:15], f"hn{self.index}-{self.name}"[:15]

    def __enter__(self) -> Namespace:
        if (why := available()) is not None:
            raise ConfigError(f"cannot create namespace {self.name}: {why}")
        root_if, ns_if = self._veth
        self._cleanup()
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", root_if, "type", "veth", "peer", "name", ns_if)
            _ip("link", "set", ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.root_ip}/24", "dev", root_if)
            _ip("link", "set", root_if, "up")
            self.exec("ip", "addr", "add", f"{self.ns_ip}/24", "dev", ns_if)
            self.exec("ip", "link", "set", ns_if, "up")
            self.exec("ip", "link", "set", "lo", "up")
            if self.upload_mbit is not None:
                self.cap_upload(self.upload_mbit)
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._cleanup()

    def cap_upload(self, mbit: float | None) -> None:
        """tbf on the namespace's side of the veth: what leaves the namespace is capped."""
        ns_if = self._veth[1]
        subprocess.run(["ip", "netns", "exec", self.name, "tc", "qdisc", "del", "dev", ns_if, "root"],
                       capture_output=True, check=False)
        if mbit is not None:
            self.exec("tc", "qdisc", "add", "dev", ns_if, "root", "tbf", "rate", f"{mbit}mbit",
                      "burst", "32kbit", "latency", "2s")
        self.upload_mbit = mbit

    def exec(self, *command: str) -> str:
        return _run(["ip", "netns", "exec", self.name, *command])

    def _cleanup(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self._veth[0]], capture_output=True, check=False)


def _ip(*args: str) -> str:
    return _run(["ip", *args])


def _run(command: list[str]) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ConfigError(f"{' '.join(command)} failed: {proc.stderr.strip()}")
    return proc.stdout
