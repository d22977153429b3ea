"""``helio bench gateway [--json]`` (or ``python -m gateway.bench``): what the gateway adds.

In one run, on the same loaded model and the same greedy prompt:
- added latency per request: the official ``openai`` SDK through the gateway (HTTP on
  loopback) vs calling ``generate_tokens`` directly; p50/p99 of each and of the difference;
- added latency per streamed token: p50/p99 gap between streamed tokens, gateway vs direct;
- requests/s for ``GET /v1/models`` and for short completions (1 token) at 1/8/32
  concurrent clients;
- rate-limiter accuracy: requests admitted vs the free tier's limit, in-process and over HTTP;
- what the request limits and the Prometheus metrics cost: requests/s with both on (the
  default app) vs both off (no ``BodyLimit`` middleware, ``metrics=False``), rounds
  interleaved in the same run, medians with their spread.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import httpx

from node.client import SamplingParams, generate_tokens

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

MODEL = "smollm2-135m-instruct"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
MAX_TOKENS = 8


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    return {"p50_ms": round(_pct(values, 0.5) * scale, 2), "p99_ms": round(_pct(values, 0.99) * scale, 2),
            "mean_ms": round(statistics.fmean(values) * scale, 2)}


def _direct(served: Any, n: int) -> tuple[list[float], list[float]]:
    """The baseline, in a fresh thread like the gateway's workers: torch's intra-op pool
    behaves differently on the main thread (on a loaded 2-core machine the main thread's
    2-thread OpenMP team ran ~4× slower than a worker thread's), which would not be the
    gateway's cost."""
    out: list[tuple[list[float], list[float]]] = []
    worker = threading.Thread(target=lambda: out.append(_direct_here(served, n)))
    worker.start()
    worker.join()
    return out[0]


def _direct_here(served: Any, n: int) -> tuple[list[float], list[float]]:
    ids = served.client.encode_chat(MESSAGES)
    totals, gaps = [], []
    for _ in range(n):
        start = last = time.perf_counter()
        for _token in generate_tokens(served.client, served.route_factory(), ids,
                                      SamplingParams(max_new_tokens=MAX_TOKENS)):
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        totals.append(time.perf_counter() - start)
    return totals, gaps[1:] if len(gaps) > 1 else gaps


def _through_gateway(url: str, n: int) -> tuple[list[float], list[float]]:
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
    messages = cast("list[ChatCompletionMessageParam]", MESSAGES)  # the same dicts
    totals, gaps = [], []
    for _ in range(n):
        start = time.perf_counter()
        client.chat.completions.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS, temperature=0)
        totals.append(time.perf_counter() - start)
        last = None
        for chunk in client.chat.completions.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS,
                                                    temperature=0, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                now = time.perf_counter()
                if last is not None:
                    gaps.append(now - last)
                last = now
    return totals, gaps


def _rps(url: str, path: str, body: dict[str, Any] | None, clients: int, total: int) -> dict[str, Any]:
    def one(client: httpx.Client) -> int:
        r = client.post(url + path, json=body) if body else client.get(url + path)
        return r.status_code

    with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=clients)) as client, \
            ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        codes = list(pool.map(lambda _: one(client), range(total)))
        elapsed = time.perf_counter() - start
    return {"clients": clients, "requests": total, "rps": round(total / elapsed, 1),
            "ok": codes.count(200)}


def run_bench(requests: int = 16) -> dict[str, Any]:
    from gateway.app import create_app
    from gateway.ratelimit import FreeTier
    from gateway.served_model import load_served_model
    from gateway.server import GatewayServer
    from gateway.settings import GatewaySettings
    from gateway.state import build_gateway
    from node.bench.machine import machine_info
    from node.core.settings import Settings

    served = load_served_model(MODEL, "fp32", Settings().cache_dir)
    unlimited = GatewaySettings(free_requests_per_minute=10**6, free_tokens_per_minute=10**9)
    gateway = build_gateway(unlimited, {MODEL: served})
    result: dict[str, Any] = {"bench": "gateway", "model": MODEL, "max_tokens": MAX_TOKENS,
                              "machine": machine_info()}
    with GatewayServer(create_app(gateway)) as server:
        _direct(served, 1)  # warm up both paths
        _through_gateway(server.url, 1)
        direct_total, direct_gaps, gw_total, gw_gaps = [], [], [], []
        for _ in range(requests):  # interleaved so contention hits both alike
            d_t, d_g = _direct(served, 1)
            g_t, g_g = _through_gateway(server.url, 1)
            direct_total += d_t
            direct_gaps += d_g
            gw_total += g_t
            gw_gaps += g_g
        added = [g - d for g, d in zip(gw_total, direct_total, strict=True)]
        result["per_request"] = {"direct": _summary(direct_total), "gateway": _summary(gw_total),
                                 "added": _summary(added),
                                 "ratio_p50": round(_pct(gw_total, .5) / _pct(direct_total, .5), 3)}
        result["per_streamed_token"] = {
            "direct": _summary(direct_gaps), "gateway": _summary(gw_gaps),
            "added_p50_ms": round((_pct(gw_gaps, .5) - _pct(direct_gaps, .5)) * 1000, 2),
            "added_p99_ms": round((_pct(gw_gaps, .99) - _pct(direct_gaps, .99)) * 1000, 2)}
        short = {"model": MODEL, "prompt": "Hello", "max_tokens": 1, "temperature": 0}
        result["models_rps"] = [_rps(server.url, "/v1/models", None, c, max(200, 20 * c)) for c in (1, 8, 32)]
        result["short_completion_rps"] = [_rps(server.url, "/v1/completions", short, c, max(16, c))
                                          for c in (1, 8, 32)]
    result["limits_and_metrics"] = _limits_and_metrics_cost(served)
    # Rate limiter accuracy: a burst far over the limit, in-process and over HTTP.
    tier, admitted = FreeTier(requests_per_minute=100, tokens_per_minute=10**9), 0
    for _ in range(1000):
        try:
            tier.admit("bench", False, 1)
            admitted += 1
        except Exception:  # noqa: BLE001 (429)
            pass
    limited = build_gateway(GatewaySettings(free_requests_per_minute=10), {MODEL: served})
    with GatewayServer(create_app(limited)) as server:
        http = _rps(server.url, "/v1/completions", {**short}, 4, 30)
    result["rate_limiter"] = {"in_process": {"limit": 100, "sent": 1000, "admitted": admitted},
                              "http": {"limit": 10, "sent": 30, "admitted": http["ok"]}}
    return result


def _limits_and_metrics_cost(served: Any, rounds: int = 7) -> dict[str, Any]:
    """Requests/s of the same gateway with limits + metrics on vs off, round by round in
    alternating order (so drift on a shared machine hits both alike)."""
    from gateway.app import create_app
    from gateway.limits import BodyLimit
    from gateway.server import GatewayServer
    from gateway.settings import GatewaySettings
    from gateway.state import build_gateway

    def app(on: bool) -> Any:
        settings = GatewaySettings(free_requests_per_minute=10**6, free_tokens_per_minute=10**9, metrics=on)
        built = create_app(build_gateway(settings, {MODEL: served}))
        if not on:  # the middleware stack is built at the first request: drop the limit before
            built.user_middleware = [m for m in built.user_middleware if m.cls is not cast(Any, BodyLimit)]
        return built

    short = {"model": MODEL, "prompt": "Hello", "max_tokens": 1, "temperature": 0}
    runs: dict[str, dict[str, list[float]]] = {"on": {"models": [], "completions": []},
                                               "off": {"models": [], "completions": []}}
    with GatewayServer(app(True)) as on, GatewayServer(app(False)) as off:
        servers = {"on": on, "off": off}
        for name in servers:  # warm up
            _rps(servers[name].url, "/v1/completions", short, 2, 4)
        for i in range(rounds):
            for name in (("on", "off") if i % 2 == 0 else ("off", "on")):
                url = servers[name].url
                runs[name]["models"].append(_rps(url, "/v1/models", None, 8, 400)["rps"])
                runs[name]["completions"].append(_rps(url, "/v1/completions", short, 8, 24)["rps"])

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 1), "min": min(values), "max": max(values)}

    out: dict[str, Any] = {"rounds": rounds, "clients": 8}
    for path in ("models", "completions"):
        on_med, off_med = statistics.median(runs["on"][path]), statistics.median(runs["off"][path])
        out[path] = {"on_rps": spread(runs["on"][path]), "off_rps": spread(runs["off"][path]),
                     "on_over_off": round(on_med / off_med, 3)}
    return out


def main(requests: int = 16, as_json: bool = False) -> None:
    result = run_bench(requests)
    if as_json:
        print(json.dumps(result))
    else:
        from rich.pretty import pprint

        pprint(result, expand_all=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 16, "--json" in sys.argv)
