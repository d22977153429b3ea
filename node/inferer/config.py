"""An inferer's settings: what it serves, how it joins, its named timeouts, and its
energy gate's options (``EnergyOptions``, run by ``node.inferer.energy``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.core.errors import ConfigError
from node.energy.adapters import ADAPTERS, make_adapter
from node.energy.controller import ControllerConfig
from node.swarm.peer import PeerConfig

ENERGY_MODES = ("none", *sorted(ADAPTERS))  # none: no energy gate, always serve
DEFAULT_ATTEST_INTERVAL_S = 3600.0  # periodic on-chain posts (state changes always post)


DEFAULT_MAX_SESSIONS_PER_PEER = 64
DEFAULT_MAX_STREAMS_PER_PEER = 128
DEFAULT_INBOX_STEPS = 8


@dataclass(frozen=True)
class PeerCaps:
    """What ``SpanService`` enforces per peer and per session (``InfererConfig.caps()``)."""

    max_sessions_per_peer: int = DEFAULT_MAX_SESSIONS_PER_PEER
    max_streams_per_peer: int = DEFAULT_MAX_STREAMS_PER_PEER
    inbox_steps: int = DEFAULT_INBOX_STEPS


@dataclass
class EnergyOptions:
    mode: str  # an adapter name (node.energy.adapters.ADAPTERS)
    # The adapter's own options (--energy-opt key=value: host, port, unit_id, house_w, …).
    adapter_options: dict[str, str] = field(default_factory=dict)
    watts: float = 1000.0  # fixed: available power (W)
    trace_site: str = "greensboro"  # trace: TMY site (node/energy/traces.py)
    tz_offset: float | None = None  # local UTC offset (trace default: the site's; fixed: none)
    clock_speed: float = 1.0  # trace: clock seconds per wall second (demo: 120 = 1 h in 30 s)
    trace_date: str | None = None  # trace: start at local noon of this day (MM-DD, march-equinox…)
    enforce: bool = True  # False: load at once, never unload (energy only reported)
    window_s: float = 45.0  # rolling average of the headroom (at least 3 polls)
    power_w: float = 300.0  # the machine's draw serving at full load
    idle_w: float = 120.0  # its draw with the model loaded and no session
    # With a chain: periodic posts at most this often (energy-clock seconds; state changes
    # always post). The contract counts a report fresh for its maxAge (900 s by default).
    attest_interval_s: float = DEFAULT_ATTEST_INTERVAL_S

    def __post_init__(self) -> None:
        if self.mode not in ADAPTERS:
            raise ConfigError(f"--energy {self.mode!r}: use one of {', '.join(ENERGY_MODES)}")
        if self.clock_speed <= 0 or self.watts < 0:
            raise ConfigError("--clock-speed must be positive and --energy-watts non-negative")
        if self.attest_interval_s <= 0:
            raise ConfigError(f"--attest-interval must be positive, got {self.attest_interval_s}")
        if self.mode != "trace" and (self.trace_date is not None or self.clock_speed != 1.0):
            raise ConfigError("--trace-date and --clock-speed go with --energy trace")
        if not 1.0 <= self.window_s <= 3600.0:
            raise ConfigError(f"--energy-window must be within 1..3600 s (30-60 recommended), got {self.window_s}")
        self.controller_config()  # its checks (draws) fail here, before anything starts

    def controller_config(self) -> ControllerConfig:
        return ControllerConfig(power_w=self.power_w, idle_w=self.idle_w,
                                window_s=max(self.window_s, 3 * self.poll_s),
                                stale_after_s=max(30.0, 3 * self.poll_s))

    def adapter(self) -> Any:
        """The adapter, built now (a real inverter is first read by the runner)."""
        if self.mode == "fixed":
            return make_adapter("fixed", **{"available_w": self.watts, **self.adapter_options})
        if self.mode == "trace":
            return make_adapter("trace", **{
                "site": self.trace_site, "utc_offset_h": self.tz_offset, "start": "local-noon",
                "date": self.trace_date, "speed": self.clock_speed, **self.adapter_options})
        return make_adapter(self.mode, **self.adapter_options)

    @property
    def poll_s(self) -> float:
        """Clock seconds between reads: 5 s, but at most one read per wall second."""
        return max(5.0, self.clock_speed)


@dataclass
class ChainConfig:
    """Register and stake on start (the demo does this with an anvil dev key)."""

    rpc_url: str
    network: str = "local"  # reads deployments/<network>.json
    stake_wei: int | None = None  # own stake to hold (--stake); None = bond nothing (inferer/staking.py)
    region: str = "local"
    deployments_dir: Path | None = None  # None: the project's deployments/ (HELIO_DEPLOYMENTS_DIR)


@dataclass
class InfererConfig:
    model_dir: Path  # converted model (manifest + block files)
    blocks: tuple[int, int] | None  # None = choose automatically (Petals' rule)
    private_key: str  # Ethereum key: signs records and output commitments
    peer: PeerConfig = field(default_factory=PeerConfig)
    num_blocks: int | None = None  # span length when blocks are chosen automatically
    torch_threads: int = 1  # 1 is fair on a 2-core machine
    quant: str | None = None  # weight quantization of the span (node/engine/quant.py)
    wire_codec: str = "auto"  # codec offered first (node.engine.codecs.offered_codecs); auto: the family's
    device: str = "cpu"  # where the span runs: cpu, cuda, mps (node.engine.device)
    refresh_s: float = 30.0  # re-announce period; records expire after 2 × this
    cache_tokens: int = 32768  # KV-cache budget over all sessions, in tokens
    max_chunk_tokens: int = 2048  # largest step a client may send
    push_timeout_s: float = 5.0  # the next server must accept a pushed step within this
    # Per-peer caps (docs/swarm.md#caps): one peer cannot take the whole server. A gateway
    # is one peer for all its users, so these are well above one client's needs.
    max_sessions_per_peer: int = DEFAULT_MAX_SESSIONS_PER_PEER  # open inference sessions one peer may hold here
    max_streams_per_peer: int = DEFAULT_MAX_STREAMS_PER_PEER  # open inference + push streams of one peer (opened or not)
    # Steps queued per session before the server stops reading that session's stream
    # (back-pressure: the sender waits; a push waits up to push_timeout_s, then is refused).
    inbox_steps: int = DEFAULT_INBOX_STEPS
    ping_period_s: float = 30.0  # how often to measure RTT to the servers after this one
    rebalance_period_s: float = 0.0  # how often to check whether moving helps; 0 = never
    balance_margin: float = 0.2  # move only if the swarm's bottleneck improves by > 20 %
    drain_timeout_s: float = 30.0  # on shutdown, wait this long for open sessions
    region: str = ""  # announced; routers may prefer nearby servers
    relayed: bool = False  # reachable only through a relay (announced; routers penalize it)
    chain: ChainConfig | None = None
    measure_throughput: bool = True  # False: announce throughput_override instead
    throughput_override: float | None = None
    energy: EnergyOptions | None = None  # None: always serve (no energy gate)
    # Gets a span's files into model_dir before it loads (with --manifest-cid: an IPFS
    # fetch, verified); None: model_dir already holds every block.
    fetch_span: Callable[[int, int], object] | None = None

    def __post_init__(self) -> None:
        if self.blocks is not None:
            start, end = self.blocks
            if not 0 <= start < end:
                raise ConfigError(f"--blocks {start}:{end} is empty; use a:b with a < b")
        elif self.num_blocks is not None and self.num_blocks < 1:
            raise ConfigError("--num-blocks must be at least 1")
        if self.refresh_s <= 0 or self.cache_tokens < 1 or self.torch_threads < 1:
            raise ConfigError("refresh period, cache tokens and torch threads must be positive")
        if min(self.max_sessions_per_peer, self.max_streams_per_peer, self.inbox_steps) < 1:
            raise ConfigError("--max-sessions-per-peer, --max-streams-per-peer and the inbox size "
                              "must be at least 1")


    def caps(self) -> PeerCaps:
        return PeerCaps(self.max_sessions_per_peer, self.max_streams_per_peer, self.inbox_steps)


def parse_blocks(text: str) -> tuple[int, int] | None:
    """``"10:20"`` → (10, 20); ``"auto"`` → None."""
    if text.strip().lower() == "auto":
        return None
    try:
        start_s, end_s = text.split(":")
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise ConfigError(f"--blocks {text!r}: expected a:b (e.g. 0:10) or auto") from None
    if not 0 <= start < end:
        raise ConfigError(f"--blocks {text!r} is empty; use a:b with 0 ≤ a < b")
    return start, end
