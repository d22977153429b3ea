"""What ``helio join`` runs on this machine: the hardware it found and the plan that fits.

Pure arithmetic over a ``Hardware`` snapshot and a converted model's manifest, so a test
can ask "what would a 2 GiB laptop serve?" without owning one. The order of preference:
the whole model at the copy's precision, the whole model in int8, the largest span at the
copy's precision, the largest span in int8; nothing fits is an error naming the cap.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from node.core.errors import ConfigError
from node.core.manifest import Manifest

MIB = 1024**2
GIB = 1024**3
RUNTIME_OVERHEAD = 400 * MIB  # python + torch + hivemind + p2pd before any weight
MEMORY_SHARE = 0.8  # of the memory free now: leave the rest to the owner's own programs
ACCELERATOR_SHARE = 0.9  # of the GPU's memory (CUDA context and allocator slack)
DISK_MARGIN = 1 * GIB  # free disk to leave after the weights are fetched
INT8_FACTOR = 0.3  # int8 weights (+ per-channel scales) against fp32 bytes
MIN_CACHE_TOKENS, MAX_CACHE_TOKENS = 1024, 32768  # KV-cache budget bounds (tokens)
WIRE_BYTES_PER_VALUE = 2  # hidden states leave as fp16 (node/swarm/wire.py)
WIRE_OVERHEAD_BYTES = 64  # framing per token step
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Hardware:
    cores: int  # physical cores (logical where the OS does not say)
    memory_available: int  # bytes free now
    memory_total: int
    accelerator: str | None  # "cuda: NVIDIA H100 80GB HBM3", "mps", None
    accelerator_memory: int | None
    disk_free: int  # bytes free where the weights go

    @classmethod
    def detect(cls, weights_dir: Path) -> Hardware:
        import psutil

        memory = psutil.virtual_memory()
        accelerator, accelerator_memory = _accelerator()
        probe = weights_dir
        while not probe.exists():  # the cache may not exist before the first fetch
            probe = probe.parent
        return cls(
            cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
            memory_available=int(memory.available),
            memory_total=int(memory.total),
            accelerator=accelerator,
            accelerator_memory=accelerator_memory,
            disk_free=int(psutil.disk_usage(str(probe)).free),
        )


def _accelerator() -> tuple[str | None, int | None]:
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"cuda: {props.name}", int(props.total_memory)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps", None
    return None, None


@dataclass(frozen=True)
class Caps:
    """The owner's limits (None: no limit)."""

    max_memory: int | None = None  # bytes
    max_upload_mbit: float | None = None  # Mbit/s of hidden states sent
    threads: int | None = None
    hours: float | None = None


@dataclass(frozen=True)
class JoinPlan:
    model_id: str
    model_dir: Path
    dtype: str  # of the converted copy
    quant: str | None  # None or "int8"
    num_blocks: int  # of the model
    span_blocks: int  # blocks this machine serves
    cache_tokens: int
    threads: int
    memory_budget: int  # bytes the plan may use
    memory_planned: int  # weights + KV cache + runtime
    disk_needed: int  # bytes still to fetch
    throughput_cap: float | None  # tokens/s announced under --max-upload

    @property
    def whole_model(self) -> bool:
        return self.span_blocks == self.num_blocks

    def as_record(self) -> dict[str, object]:
        record = asdict(self)
        record["model_dir"] = str(self.model_dir)
        return record


def plan_join(hw: Hardware, caps: Caps, model_dir: Path, *, missing_bytes: int = 0) -> JoinPlan:
    """The largest useful span of ``model_dir``'s model that fits ``hw`` under ``caps``.

    ``missing_bytes``: weights not on disk yet (fetched before serving)."""
    manifest = Manifest.load(model_dir)
    budget = int(hw.memory_available * MEMORY_SHARE)
    if hw.accelerator_memory is not None:  # `node serve --device auto` puts the span on it
        budget = min(budget, int(hw.accelerator_memory * ACCELERATOR_SHARE))
    if caps.max_memory is not None:
        budget = min(budget, caps.max_memory)
    if hw.disk_free - missing_bytes < DISK_MARGIN:
        raise ConfigError(
            f"not enough free disk for the weights: {missing_bytes / GIB:.1f} GiB needed plus "
            f"{DISK_MARGIN / GIB:.0f} GiB to spare, {hw.disk_free / GIB:.1f} GiB free; free some "
            "space or set HELIO_CACHE_DIR to a larger disk"
        )
    block_bytes = max(manifest.files[f"block_{i:03d}.safetensors"].size
                      for i in range(manifest.num_blocks))  # fmt: skip
    # Embeddings and head stay with clients and gateways: a span server loads blocks only.
    kv_per_token_block = _kv_bytes_per_token_block(model_dir, manifest)
    options = [(manifest.num_blocks, None), (manifest.num_blocks, "int8")]
    options += [(n, q) for q in (None, "int8") for n in range(manifest.num_blocks - 1, 0, -1)]
    for span, quant in options:
        weights = int(span * block_bytes * (INT8_FACTOR if quant else 1.0))
        left = budget - RUNTIME_OVERHEAD - weights
        cache_tokens = min(MAX_CACHE_TOKENS, left // max(1, kv_per_token_block * span))
        cache_tokens = cache_tokens // 1024 * 1024
        if cache_tokens >= MIN_CACHE_TOKENS:
            planned = RUNTIME_OVERHEAD + weights + cache_tokens * kv_per_token_block * span
            return JoinPlan(
                model_id=manifest.model_id,
                model_dir=model_dir,
                dtype=manifest.dtype,
                quant=quant,
                num_blocks=manifest.num_blocks,
                span_blocks=span,
                cache_tokens=int(cache_tokens),
                threads=max(1, min(caps.threads or hw.cores, hw.cores)),
                memory_budget=budget,
                memory_planned=planned,
                disk_needed=missing_bytes,
                throughput_cap=_throughput_cap(caps.max_upload_mbit, manifest.hidden_size),
            )
    smallest = RUNTIME_OVERHEAD + int(block_bytes * INT8_FACTOR) + MIN_CACHE_TOKENS * kv_per_token_block
    raise ConfigError(
        f"{manifest.model_id} does not fit: one int8 block needs about {smallest / MIB:.0f} MiB, "
        f"the budget is {budget / MIB:.0f} MiB (--max-memory, or {MEMORY_SHARE:.0%} of the "
        "memory free now); raise --max-memory or close other programs"
    )


def _kv_bytes_per_token_block(model_dir: Path, manifest: Manifest) -> int:
    """Keys + values of one token in one block, from the HF config beside the manifest."""
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    heads = config.get("num_attention_heads") or 1
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or manifest.hidden_size // heads
    return int(2 * kv_heads * head_dim * DTYPE_BYTES[manifest.dtype])


def _throughput_cap(max_upload_mbit: float | None, hidden_size: int) -> float | None:
    """Tokens/s whose hidden states fit the upload cap: routers send at most what a
    server announces, so announcing this keeps the average upload under the cap."""
    if max_upload_mbit is None:
        return None
    if max_upload_mbit <= 0:
        raise ConfigError(f"--max-upload must be > 0 Mbit/s, got {max_upload_mbit}")
    per_token = hidden_size * WIRE_BYTES_PER_VALUE + WIRE_OVERHEAD_BYTES
    return round(max_upload_mbit * 1e6 / 8 / per_token, 1)


def parse_size(text: str) -> int:
    """``"2GiB"``, ``"1500MB"``, ``"800M"``, ``"3g"`` -> bytes (binary units for G/M)."""
    value = text.strip().lower().removesuffix("b").removesuffix("i")
    units = {"k": 1024, "m": MIB, "g": GIB, "t": 1024 * GIB}
    factor = units.get(value[-1:])
    number = value[:-1] if factor else value
    try:
        amount = float(number)
    except ValueError:
        raise ConfigError(f"--max-memory {text!r}: use a size such as 2GiB or 1500MiB") from None
    if amount <= 0:
        raise ConfigError(f"--max-memory {text!r} must be positive")
    return int(amount * (factor or MIB))  # a bare number is MiB
