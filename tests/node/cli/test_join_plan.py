"""`helio join`'s plan on the real converted SmolLM2 manifest, for machines described by a
``Hardware`` snapshot: what fits is served, caps are honoured, nothing fitting is an error
that names the flag."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.join_plan import GIB, MIB, Caps, Hardware, parse_size, plan_join
from node.cli.main import app
from node.core.errors import ConfigError

pytestmark = pytest.mark.model


def _machine(memory: int = 16 * GIB, cores: int = 8, disk: int = 100 * GIB) -> Hardware:
    return Hardware(cores=cores, memory_available=memory, memory_total=memory,
                    accelerator=None, accelerator_memory=None, disk_free=disk)  # fmt: skip


def test_a_roomy_machine_serves_the_whole_model_in_full_precision(smollm2_dir: Path) -> None:
    plan = plan_join(_machine(), Caps(), smollm2_dir)
    assert plan.whole_model and plan.quant is None and plan.dtype == "float32"
    assert plan.threads == 8 and plan.cache_tokens == 32768
    assert plan.memory_planned <= plan.memory_budget


def test_max_memory_shrinks_to_int8_then_to_a_span(smollm2_dir: Path) -> None:
    full = plan_join(_machine(), Caps(), smollm2_dir)
    tight = plan_join(_machine(), Caps(max_memory=700 * MIB), smollm2_dir)
    assert tight.whole_model and tight.quant == "int8" and tight.memory_planned <= 700 * MIB
    tighter = plan_join(_machine(), Caps(max_memory=430 * MIB), smollm2_dir)
    assert 1 <= tighter.span_blocks < full.num_blocks and tighter.memory_planned <= 430 * MIB
    with pytest.raises(ConfigError, match="--max-memory"):
        plan_join(_machine(), Caps(max_memory=300 * MIB), smollm2_dir)


def test_free_memory_bounds_the_plan_without_a_cap(smollm2_dir: Path) -> None:
    plan = plan_join(_machine(memory=600 * MIB), Caps(), smollm2_dir)
    assert plan.memory_budget == int(600 * MIB * 0.8) and plan.memory_planned <= plan.memory_budget


def test_threads_and_upload_caps(smollm2_dir: Path) -> None:
    plan = plan_join(_machine(cores=4), Caps(threads=2, max_upload_mbit=1.0), smollm2_dir)
    assert plan.threads == 2
    # 576 fp16 values + framing per token: 1 Mbit/s carries ≈ 103 tokens/s
    assert plan.throughput_cap == pytest.approx(1e6 / 8 / (576 * 2 + 64), abs=0.1)
    assert plan_join(_machine(cores=4), Caps(threads=16), smollm2_dir).threads == 4


def test_a_gpu_bounds_the_budget_by_its_memory(smollm2_dir: Path) -> None:
    gpu = Hardware(cores=8, memory_available=64 * GIB, memory_total=64 * GIB,
                   accelerator="cuda: a small GPU", accelerator_memory=700 * MIB, disk_free=100 * GIB)  # fmt: skip
    plan = plan_join(gpu, Caps(), smollm2_dir)
    assert plan.memory_budget == int(700 * MIB * 0.9) and plan.quant == "int8"


def test_too_little_disk_is_refused(smollm2_dir: Path) -> None:
    with pytest.raises(ConfigError, match="free disk"):
        plan_join(_machine(disk=2 * GIB), Caps(), smollm2_dir, missing_bytes=int(1.5 * GIB))


def test_parse_size() -> None:
    assert parse_size("2GiB") == 2 * GIB and parse_size("1500MB") == 1500 * MIB
    assert parse_size("800") == 800 * MIB
    with pytest.raises(ConfigError):
        parse_size("lots")


def test_join_plan_only_prints_the_plan_and_caps(smollm2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`helio join --plan-only` on this machine (no chain): the plan, the caps, no serving."""
    monkeypatch.delenv("HELIO_RPC_URL", raising=False)
    result = CliRunner().invoke(app, [
        "join", "--plan-only", "--model-dir", str(smollm2_dir), "--energy", "none",
        "--max-memory", "700MiB", "--threads", "1", "--max-upload", "1", "--hours", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "the whole model: 30 of 30 blocks, float32 + int8" in out
    assert "memory 700 MiB" in out and "threads 1" in out and "hours 2.0" in out
    assert "upload 1.0 Mbit/s" in out and "joining unstaked" in out
