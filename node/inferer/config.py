"""An inferer's settings: what it serves, how it joins, and its named timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from node.core.errors import ConfigError
from node.inferer.energy import EnergyOptions
from node.swarm.peer import PeerConfig


@dataclass
class ChainConfig:
    """Register and stake on start (the demo does this with an anvil dev key)."""

    rpc_url: str
    network: str = "local"  # reads deployments/<network>.json
    stake_wei: int | None = None  # own stake to hold; None = the contract's minimum
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
    refresh_s: float = 30.0  # re-announce period; records expire after 2 × this
    cache_tokens: int = 32768  # KV-cache budget over all sessions, in tokens
    max_chunk_tokens: int = 2048  # largest step a client may send
    push_timeout_s: float = 5.0  # the next server must accept a pushed step within this
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

    def __post_init__(self) -> None:
        if self.blocks is not None:
            start, end = self.blocks
            if not 0 <= start < end:
                raise ConfigError(f"--blocks {start}:{end} is empty; use a:b with a < b")
        elif self.num_blocks is not None and self.num_blocks < 1:
            raise ConfigError("--num-blocks must be at least 1")
        if self.refresh_s <= 0 or self.cache_tokens < 1 or self.torch_threads < 1:
            raise ConfigError("refresh period, cache tokens and torch threads must be positive")


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
