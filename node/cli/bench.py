"""``helio bench <part> [--json]``: benchmarks. Each part lives in ``node/bench/<part>.py``;
add a command here that calls it and hands the dict to ``report``."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.pretty import pprint

app = typer.Typer(help="Benchmarks; --json prints one JSON object as the last line.", no_args_is_help=True)
console = Console()

JsonFlag = typer.Option(False, "--json", help="print one JSON object as the last line")
DeviceOpt = typer.Option("cpu", "--device", help="where spans and the client's head run: auto, cpu, cuda, cuda:N, mps (auto: a GPU if torch sees one)")


def report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        pprint(result, console=console, expand_all=True)


@app.command()
def convert(
    model_id: str = typer.Option("smollm2-135m-instruct", "--model", help="model to convert"),
    dtypes: str = typer.Option("fp32,bf16,fp16", "--dtypes", help="comma-separated dtypes"),
    as_json: bool = JsonFlag,
) -> None:
    """Conversion time, cache reuse time and cache size per dtype (fresh temp cache)."""
    from node.bench.convert import bench_convert

    report(bench_convert(model_id, [d.strip() for d in dtypes.split(",") if d.strip()]), as_json)


@app.command()
def ipfs(
    model_id: str = typer.Option("smollm2-135m-instruct", "--model", help="converted model to publish"),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32, bf16 or fp16"),
    span: str = typer.Option("0:10", "--span", help="blocks START:END fetched by the second node"),
    as_json: bool = JsonFlag,
) -> None:
    """Publish time, span fetch MB/s over loopback and cold start (manifest CID → forward)."""
    from node.bench.ipfs import bench_ipfs

    start, end = (int(x) for x in span.split(":"))
    report(bench_ipfs(model_id, dtype, (start, end)), as_json)


@app.command()
def chain(as_json: bool = JsonFlag) -> None:
    """Gas per contract call (register ... claim) on a fresh anvil with the whole suite."""
    from node.bench.chain import bench_chain

    report(bench_chain(), as_json)


@app.command()
def swarm(
    model_id: str = typer.Option("smollm2-135m-instruct", "--model", help="model to serve"),
    threads: int = typer.Option(1, "--threads", help="torch threads per process (1 is fair on 2 cores)"),
    tokens: int = typer.Option(24, "--tokens", help="decode tokens per measurement"),
    wan: str = typer.Option("25,50,100", "--wan", help="RTTs (ms) for the relayed-swarm runs; empty: skip"),
    wire_codec: str = typer.Option("auto", "--wire-codec", help="codec the client asks for: auto (negotiated), fp16, bf16, int8-blockwise, none"),
    speculative: str = typer.Option("0,25,50,100", "--speculative", help="RTTs (ms) for plain vs. speculative decoding; empty: skip"),
    device: str = DeviceOpt,
    as_json: bool = JsonFlag,
) -> None:
    """A real swarm (bootstrap + 3 inferer processes) vs. the single-process engine."""
    from node.bench.swarm import bench_swarm
    from node.engine.codecs import check_wire_codec
    from node.engine.device import resolve_device

    resolve_device(device)  # an absent GPU fails here, before any process starts
    rtts = tuple(int(r) for r in wan.split(",") if r.strip())
    spec = tuple(int(r) for r in speculative.split(",") if r.strip())
    report(bench_swarm(model_id, threads=threads, tokens=tokens, wan_rtts=rtts,
                       codec=check_wire_codec(wire_codec), speculative_rtts=spec, device=device), as_json)


@app.command()
def engine(
    model_id: str = typer.Option("smollm2-135m-instruct", "--model", help="model to run"),
    dtype: str = typer.Option(None, "--dtype", help="fp32, bf16 or fp16 (default: fp32 on the CPU, bf16/fp16 on a GPU)"),
    threads: int = typer.Option(2, "--threads", help="torch threads (both sides)"),
    new_tokens: int = typer.Option(32, "--new-tokens", help="tokens generated per measurement"),
    repeats: int = typer.Option(5, "--repeats", help="interleaved runs per side (best and median)"),
    device: str = DeviceOpt,
    decode_only: bool = typer.Option(False, "--decode-only", help="only single-process decode tokens/s: fp32 and int8 on the lean step and through the transformers stack, int8 with an int8 head; interleaved"),
    as_json: bool = JsonFlag,
) -> None:
    """Spans vs. plain transformers generate; batching; int8/int4; wire codecs."""
    from node.bench.decode import bench_decode
    from node.bench.engine import bench_engine
    from node.core.settings import Settings
    from node.engine.device import default_dtype, resolve_device
    from node.models.convert import convert_model

    where = resolve_device(device)  # an absent GPU fails here, before any conversion
    converted = convert_model(model_id, dtype or default_dtype(where), Settings().cache_dir,
                              progress=not as_json)
    if decode_only:
        report(bench_decode(converted.model_dir, threads=threads, new_tokens=new_tokens,
                            repeats=repeats, device=device), as_json)
        return
    report(
        bench_engine(model_id, converted.model_dir, threads=threads, new_tokens=new_tokens,
                     repeats=repeats, device=device),
        as_json,
    )


@app.command()
def verify(
    model_id: str = typer.Option("smollm2-135m-instruct", "--model", help="model whose span is checked"),
    blocks: str = typer.Option("0:4", "--blocks", help="span START:END re-executed"),
    checks: int = typer.Option(10_000, "--checks", help="honest checks (threads 1/2 × batch 1/4/16)"),
    as_json: bool = JsonFlag,
) -> None:
    """Spot-check fingerprints: false positives, detection per adversary, requests until
    detection at p = 1/2/5 %, re-execution overhead, fingerprint bytes per token."""
    from node.bench.verify import bench_verify
    from node.core.settings import Settings
    from node.models.convert import convert_model

    converted = convert_model(model_id, "fp32", Settings().cache_dir, progress=not as_json)
    start, end = (int(x) for x in blocks.split(":"))
    report(bench_verify(converted.model_dir, blocks=(start, end), checks=checks), as_json)
