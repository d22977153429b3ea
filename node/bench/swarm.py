"""Swarm benchmark (``helio bench swarm``): a real swarm of processes on loopback against
the single-process engine, same dtype and torch thread count, measured side by side.

- ``single_process_tokens_per_s`` / ``swarm_tokens_per_s``: greedy decode (head included)
  through ``InProcessRoute`` over all blocks vs. a ``SwarmRoute`` over 3 inferer processes;
  rounds alternate so both see the same machine load; ``ratio`` is the median of the
  per-round ratios (the load average before and after is recorded).
- ``hop_overhead_ms``: per network hop (client → s1 → s2 → s3 → client), the step's wall
  time at the client minus the compute the servers reported, divided by the hops.
- ``concurrent_tokens_per_s``: K clients decoding at once (each its own route; the
  servers batch them); the client head is skipped so the swarm, not the client, is measured.
- ``ttft_ms``: a fresh route (plan, open 3 sessions, prefill a short chat prompt) to the
  first token. ``failover_s``: kill the middle server mid-generation → the next token.
- ``upload_cap`` (root only): the last inferer in its own network namespace with a
  ``tbf`` upload cap; a 240-token prefill's output crosses it: ``floor_ms`` = uncapped
  prefill + output bits / rate.
- ``wan``: the same swarm behind delaying TCP relays (``node/swarm/delay.py``) at each
  RTT: ``latency_ms`` per decode step, ``floor_ms`` = server compute + one-way latency of
  each hop, ``ratio`` = latency / floor.
- ``codec`` (the one the routes negotiated, ``--wire-codec``) and ``wire``: per codec,
  the bytes of one hidden-state message and of a whole step on the network (the
  client's send, every hop's result back to the client and every push: 2 × hops
  messages) for a decode step and for the prompt's prefill, and decode tokens/s.
- ``speculative``: node/bench/speculative.py (plain vs. prompt-lookup speculative
  decoding at each simulated RTT, chat and summarize prompts).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from node.bench.decode import greedy_decode_rate
from node.bench.machine import machine_info
from node.bench.relayed import relayed_swarm
from node.bench.speculative import bench_speculative
from node.client import ClientModel
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.client.swarm_route import SwarmRoute
from node.engine import InProcessRoute, Route, Span
from node.engine.device import resolve_device
from node.harness.swarm import LocalSwarm
from node.swarm import netns

PROMPT = [{"role": "user", "content": "Write a short poem about the sun and the sea."}]


def bench_swarm(model_id: str = "smollm2-135m-instruct", dtype: str = "fp32", threads: int = 1,
                tokens: int = 24, rounds: int = 4, inferers: int = 3,
                wan_rtts: tuple[int, ...] = (25, 50, 100),
                concurrency: tuple[int, ...] = (1, 4, 16),
                upload_caps: tuple[float, ...] = (4.0, 16.0), codec: str = "auto",
                speculative_rtts: tuple[int, ...] = (0, 25, 50, 100),
                device: str = "cpu") -> dict[str, Any]:
    """``device``: where the inferers' spans (``node serve --device``), the baseline's
    span and the client's head run."""
    from node.core.settings import Settings
    from node.models.convert import convert_model

    where = resolve_device(device)  # an absent GPU fails before any process starts
    serve = ["--device", device]  # every inferer process gets it
    torch.set_num_threads(threads)
    converted = convert_model(model_id, dtype, Settings().cache_dir, progress=False)
    model_dir, n = converted.model_dir, converted.manifest.num_blocks
    client_model = ClientModel(model_dir).to(where)
    hidden = converted.manifest.hidden_size
    ids = client_model.encode_chat(PROMPT)
    bounds = [round(i * n / inferers) for i in range(inferers + 1)]
    spans = list(zip(bounds, bounds[1:], strict=False))
    result: dict[str, Any] = {
        "model": model_id, "dtype": converted.manifest.dtype, "device": str(where),
        "torch_threads": threads,
        "inferers": inferers, "spans": [f"{a}:{b}" for a, b in spans], "decode_tokens": tokens,
        "machine": machine_info(), "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    baseline = InProcessRoute([Span(model_dir, 0, n, device=where)])
    with tempfile.TemporaryDirectory(prefix="helio-bench-swarm-") as tmp:
        with LocalSwarm(model_dir, Path(tmp) / "loopback", threads=threads, refresh_s=10) as swarm:
            swarm.start_bootstrap()
            for span in [*spans, spans[len(spans) // 2]]:  # + a spare for the failover
                swarm.start_inferer(span, wait=False, extra_args=serve)
            swarm.wait_ready()
            with SwarmClient(swarm.initial_peers, config=ClientConfig(codec=codec)) as client:
                client.wait_for_coverage(model_id, n)
                warm = _decode(client_model, client.route(model_id, n, hidden), ids, 4)[1]
                result["codec"] = warm.config.codec
                single, through_swarm, overheads = [], [], []
                for _ in range(rounds):
                    single.append(_decode(client_model, baseline, ids, tokens)[0])
                    rate, route = _decode(client_model, client.route(model_id, n, hidden), ids, tokens)
                    through_swarm.append(rate)
                    decode = route.timings[1:]  # skip the prefill
                    hops = len(route.peers) + 1
                    overheads.append(statistics.median((w - c) / hops for w, c in decode))
                # Paired rounds: the machine's load drifts, a neighbour's ratio does not.
                result["single_process_tokens_per_s"] = round(statistics.median(single), 2)
                result["swarm_tokens_per_s"] = round(statistics.median(through_swarm), 2)
                result["ratio"] = round(statistics.median(
                    s / b for s, b in zip(through_swarm, single, strict=True)), 3)
                result["ratio_rounds"] = [round(s / b, 3) for s, b in zip(through_swarm, single, strict=True)]
                result["hop_overhead_ms"] = round(statistics.median(overheads), 3)
                result["ttft_ms"] = round(_ttft(client, client_model, model_id, n, ids), 1)
                result["concurrent_tokens_per_s"] = {
                    str(k): round(_concurrent(client, client_model, model_id, n, ids, k, tokens), 2)
                    for k in concurrency
                }
                result["wire"] = _wire_bytes(client, client_model, model_id, n, ids, tokens)
                result["failover_s"] = round(_failover(swarm, client, client_model, model_id, n, ids), 3)
        if wan_rtts:
            result["wan"] = _wan(model_dir, Path(tmp) / "wan", spans, threads, client_model,
                                 model_id, n, ids, wan_rtts, serve)
        if speculative_rtts:
            result["speculative"] = bench_speculative(model_dir, Path(tmp) / "speculative", spans, threads,
                                                      client_model, model_id, n, speculative_rtts, tokens,
                                                      serve_args=serve)
        if upload_caps and netns.available() is None:
            result["upload_cap"] = _upload_cap(model_dir, Path(tmp) / "tbf", spans, threads,
                                               client_model, model_id, n, upload_caps, serve)
        elif upload_caps:
            result["upload_cap"] = {"skipped": netns.available()}
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["goals"] = {"ratio": ">= 0.8", "hop_overhead_ms": "<= 2", "ttft_ms": "<= 300",
                       "wan.ratio": "<= 1.2"}
    return result


def _decode(client: ClientModel, route: Route, ids: list[int], steps: int) -> tuple[float, Any]:
    """Greedy decode ``steps`` tokens after a prefill: (tokens/s, the closed route)."""
    return greedy_decode_rate(client, route, ids, steps), route


def _ttft(client: SwarmClient, model: ClientModel, model_id: str, n: int, ids: list[int],
          repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        route = client.route(model_id, n, model.manifest.hidden_size)
        route.open(len(ids) + 2)
        try:
            hidden = route.step(model.embed(torch.tensor([ids])))
            int(torch.argmax(model.logits(hidden[:, -1:])[0, -1]))
            times.append((time.perf_counter() - started) * 1e3)
        finally:
            route.close()
    return statistics.median(times)


def _concurrent(client: SwarmClient, model: ClientModel, model_id: str, n: int, ids: list[int],
                k: int, steps: int) -> float:
    """Aggregate decode tokens/s of ``k`` simultaneous sessions (no client head)."""
    prompt = model.embed(torch.tensor([ids]))
    token = model.embed(torch.tensor([[ids[-1]]]))
    routes = [client.route(model_id, n, model.manifest.hidden_size) for _ in range(k)]
    barrier = threading.Barrier(k + 1)
    errors: list[BaseException] = []

    def run(route: SwarmRoute) -> None:
        try:
            route.open(len(ids) + steps + 1)
            route.step(prompt)
            barrier.wait()
            for _ in range(steps):
                route.step(token)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            route.close()

    workers = [threading.Thread(target=run, args=(r,)) for r in routes]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return k * steps / (time.perf_counter() - started)


def _wire_bytes(client: SwarmClient, model: ClientModel, model_id: str, n: int, ids: list[int],
                tokens: int) -> dict[str, Any]:
    """Bytes on the network per codec, from the messages a route really sent."""
    out: dict[str, Any] = {}
    wanted = client.config
    try:
        for codec in ("none", "fp16", "bf16", "int8-blockwise"):
            client.config = dataclasses.replace(wanted, codec=codec)
            rate, route = _decode(model, client.route(model_id, n, model.manifest.hidden_size), ids, tokens)
            hops = len(route.peers)
            prefill, decode = (len(route.inputs[0][step].buffer) for step in (0, 1))
            out[codec] = {"decode_message_bytes": decode, "decode_step_bytes": 2 * hops * decode,
                          "prefill_message_bytes": prefill, "prefill_bytes": 2 * hops * prefill,
                          "prefill_tokens": len(ids), "tokens_per_s": round(rate, 2)}
    finally:
        client.config = wanted
    return out


def _failover(swarm: LocalSwarm, client: SwarmClient, model: ClientModel, model_id: str, n: int,
              ids: list[int]) -> float:
    """Kill the route's middle server after 4 tokens; seconds until the next token."""
    route = client.route(model_id, n, model.manifest.hidden_size)
    route.open(len(ids) + 12)
    try:
        hidden = route.step(model.embed(torch.tensor([ids])))
        for index in range(10):
            token = int(torch.argmax(model.logits(hidden[:, -1:])[0, -1]))
            if index == 4:
                victim = next(p for p in swarm.inferers if p.peer_id == route.peers[1][0])
                killed_at = time.perf_counter()
                swarm.kill(victim)
                hidden = route.step(model.embed(torch.tensor([[token]])))
                int(torch.argmax(model.logits(hidden)[0, -1]))
                assert route.failovers == 1, "the kill did not cause a failover"
                return time.perf_counter() - killed_at
            hidden = route.step(model.embed(torch.tensor([[token]])))
    finally:
        route.close()
    raise AssertionError("unreachable")


def _wan(model_dir: Path, logs: Path, spans: list[tuple[int, int]], threads: int,
         model: ClientModel, model_id: str, n: int, ids: list[int], rtts: tuple[int, ...],
         serve_args: Sequence[str] = ()) -> dict[str, Any]:
    """The same swarm, each inferer reachable only through a delaying relay."""
    out: dict[str, Any] = {}
    with relayed_swarm(model_dir, logs, spans, threads, serve_args) as (swarm, set_rtt):
        config = ClientConfig(step_timeout_s=60)
        with SwarmClient(swarm.initial_peers, config=config) as client:
            client.wait_for_coverage(model_id, n)
            for rtt in rtts:
                set_rtt(rtt)
                route = client.route(model_id, n, model.manifest.hidden_size)
                _decode(model, route, ids, 8)
                decode = route.timings[1:]
                hops = len(route.peers) + 1
                latency = statistics.median(w for w, _ in decode)
                floor = statistics.median(c for _, c in decode) + hops * rtt / 2
                out[str(rtt)] = {"latency_ms": round(latency, 1), "floor_ms": round(floor, 1),
                                 "ratio": round(latency / floor, 3), "hops": hops}
    return out


def _upload_cap(model_dir: Path, logs: Path, spans: list[tuple[int, int]], threads: int,
                model: ClientModel, model_id: str, n: int, caps: tuple[float, ...],
                serve_args: Sequence[str] = (), prompt_tokens: int = 240) -> dict[str, Any]:
    """The last inferer in its own network namespace; its upload capped with tbf. A long
    prefill's output (prompt × hidden × 4 bytes) crosses the cap: floor = the uncapped
    prefill + those bits / the rate."""
    ids = list(model.tokenizer.encode("The sun rises over the quiet sea. " * 60))[:prompt_tokens]
    hidden = model.manifest.hidden_size
    out: dict[str, Any] = {"prompt_tokens": len(ids)}
    with netns.Namespace("helio-bench", index=9) as ns, \
            LocalSwarm(model_dir, logs, threads=threads, refresh_s=10) as swarm:
        swarm.start_bootstrap(also_listen=[ns.root_ip])
        for span in spans[:-1]:
            swarm.start_inferer(span, wait=False, extra_args=list(serve_args))
        swarm.start_inferer(spans[-1], wait=False, netns=ns.name,
                            extra_args=["--host", ns.ns_ip, *serve_args])
        swarm.wait_ready()
        # raw float32 on the wire: the floor below counts 4 bytes a value
        with SwarmClient(swarm.initial_peers, config=ClientConfig(codec="none")) as client:
            client.wait_for_coverage(model_id, n)

            def prefill_ms() -> float:
                route = client.route(model_id, n, hidden)
                route.open(len(ids) + 1)
                try:
                    route.step(model.embed(torch.tensor([ids])))
                    return route.timings[0][0]
                finally:
                    route.close()

            prefill_ms()  # warm up
            free = statistics.median(prefill_ms() for _ in range(3))
            out["uncapped_prefill_ms"] = round(free, 1)
            bits = len(ids) * hidden * 4 * 8
            for mbit in caps:
                ns.cap_upload(mbit)
                capped = statistics.median(prefill_ms() for _ in range(2))
                floor = free + bits / (mbit * 1e6) * 1e3
                out[f"{mbit:g}"] = {"prefill_ms": round(capped, 1), "floor_ms": round(floor, 1),
                                    "ratio": round(capped / floor, 3)}
            ns.cap_upload(None)
    return out



__all__ = ["bench_swarm"]
