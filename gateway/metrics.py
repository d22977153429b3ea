"""The gateway's metrics: Prometheus counters in one ``CollectorRegistry`` per ``Gateway``
(so tests can build several gateways in one process), exported at ``GET /metrics``
(``gateway/prometheus``) and read back by the dashboard and ``/health`` — one set of
numbers for all three. docs/metrics.md lists every metric.

The per-minute rates the dashboard shows (requests and completion tokens of the last 60 s)
are windows, not counters: they are kept here beside the counters."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import metrics as http_metrics

PREFIX = "heliomesh_gateway"
TIERS = ("free", "paid", "contributor")
# HTTP latency (whole response, streams included): generations take seconds to minutes.
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _Live(Collector):
    """Families computed at scrape time from the gateway's live state (energy gates, …)."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


def _sum_by(counter: Counter, label: str) -> dict[str, float]:
    """A labelled counter's ``_total`` samples summed by one of its labels."""
    out: dict[str, float] = {}
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = sample.labels[label]
                out[key] = out.get(key, 0.0) + sample.value
    return out


class Metrics:
    """``enabled`` False (``HELIO_GATEWAY_METRICS=false``): no ``/metrics`` route and no HTTP
    middleware (no latency histogram, no error counts); the counters the dashboard reads
    still count."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.registry = CollectorRegistry()
        r = self.registry
        labels = ("tier", "model")
        self._requests = Counter(f"{PREFIX}_requests", "Generation requests admitted (chat and "
                                 "completions), by payment tier (free, paid, contributor) and model",
                                 labels, registry=r)
        self._prompt_tokens = Counter(f"{PREFIX}_prompt_tokens", "Prompt tokens of finished or "
                                      "cancelled generations, by tier and model", labels, registry=r)
        self._completion_tokens = Counter(f"{PREFIX}_completion_tokens", "Completion tokens "
                                          "generated, by tier and model", labels, registry=r)
        self._errors = Counter(f"{PREFIX}_errors", "Error answers by HTTP status (4xx/5xx "
                               "responses, and errors sent inside a started stream)", ("status",),
                               registry=r)
        self._vouchers_accepted = Counter(f"{PREFIX}_vouchers_accepted", "Vouchers accepted "
                                          "(paid requests admitted)", registry=r)
        self._vouchers_redeemed = Counter(f"{PREFIX}_vouchers_redeemed", "Vouchers redeemed "
                                          "on-chain (or in the off-chain channels)", registry=r)
        self._redeem_batches = Counter(f"{PREFIX}_redeem_batches", "redeemBatch transactions "
                                       "(one per interval with pending vouchers)", registry=r)
        self._redeem_failures = Counter(f"{PREFIX}_redeem_failures", "Failed batch redemptions "
                                        "(retried at the next interval)", registry=r)
        self._epochs_closed = Counter(f"{PREFIX}_epochs_closed", "Contribution epochs closed "
                                      "(Merkle root built and signed)", registry=r)
        self._epochs_posted = Counter(f"{PREFIX}_epochs_posted", "Contribution epoch roots "
                                      "posted on-chain (postEpochRoot)", registry=r)
        self._epoch_failures = Counter(f"{PREFIX}_epoch_failures", "Epoch closings that failed "
                                       "(the next epoch retries with the work since)", registry=r)
        self._energy_refusals = Counter(f"{PREFIX}_energy_refusals", "Requests refused with 503 "
                                        "at_capacity by energy admission, by model", ("model",),
                                        registry=r)
        self._up = Gauge(f"{PREFIX}_start_time_seconds", "Unix time this gateway started", registry=r)
        self._up.set_to_current_time()
        # HTTP latency and status per route, recorded by prometheus-fastapi-instrumentator's
        # middleware (gateway/prometheus); built once per registry, shared by every app.
        self.http_instrumentations: list[Callable[[http_metrics.Info], None]] = [
            f for f in (
                http_metrics.latency(f"{PREFIX}_http_request_duration_seconds",
                                     "HTTP request latency in seconds, to the response's last byte "
                                     "(streams included), by route, method and status",
                                     buckets=LATENCY_BUCKETS, registry=r),
                http_metrics.requests(f"{PREFIX}_http_requests_total",
                                      "HTTP requests by route, method and status", registry=r),
                self._count_error,
            ) if f is not None]
        self._recent: deque[float] = deque()  # request times of the last minute
        self._token_times: deque[tuple[float, int]] = deque()  # (time, completion tokens)

    # --- recording -------------------------------------------------------------------------
    def request(self, tier: str, model: str = "") -> None:
        self._requests.labels(tier, model).inc()
        if tier == "paid":
            self._vouchers_accepted.inc()
        self._recent.append(time.time())

    def error(self, status: int) -> None:
        self._errors.labels(str(status)).inc()

    def _count_error(self, info: http_metrics.Info) -> None:
        if info.response is not None and info.response.status_code >= 400:
            self.error(info.response.status_code)

    def tokens(self, prompt: int, completion: int, tier: str = "", model: str = "") -> None:
        self._prompt_tokens.labels(tier, model).inc(prompt)
        self._completion_tokens.labels(tier, model).inc(completion)
        self._token_times.append((time.time(), completion))

    def at_capacity(self, model: str) -> None:
        self._energy_refusals.labels(model).inc()

    def redeemed(self, vouchers: int) -> None:
        self._redeem_batches.inc()
        self._vouchers_redeemed.inc(vouchers)

    def redeem_failed(self) -> None:
        self._redeem_failures.inc()

    def epoch_closed(self, posted: bool) -> None:
        self._epochs_closed.inc()
        if posted:
            self._epochs_posted.inc()

    def epoch_failed(self) -> None:
        self._epoch_failures.inc()

    def watch(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Add families computed at each scrape (gauges of live state)."""
        self.registry.register(_Live(collect))

    # --- reading (dashboard, /health) ----------------------------------------------------------
    @property
    def requests(self) -> dict[str, int]:
        return {k: int(v) for k, v in _sum_by(self._requests, "tier").items()}

    @property
    def errors(self) -> dict[int, int]:
        return {int(k): int(v) for k, v in _sum_by(self._errors, "status").items()}

    @property
    def prompt_tokens(self) -> int:
        return int(sum(_sum_by(self._prompt_tokens, "tier").values()))

    @property
    def completion_tokens(self) -> int:
        return int(sum(_sum_by(self._completion_tokens, "tier").values()))

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0] < now - 60:
            self._recent.popleft()
        while self._token_times and self._token_times[0][0] < now - 60:
            self._token_times.popleft()

    def requests_per_minute(self) -> int:
        self._trim(time.time())
        return len(self._recent)

    def tokens_per_minute(self) -> int:
        self._trim(time.time())
        return sum(n for _, n in self._token_times)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests_per_minute": self.requests_per_minute(),
            "completion_tokens_per_minute": self.tokens_per_minute(),
            "requests": self.requests,
            "errors": {str(k): v for k, v in self.errors.items()},
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def live_families(generator: Any, gates: Mapping[str, Any]) -> Iterable[Metric]:
    """Generations running, and per swarm-served model its energy admission
    (``gateway.energy_gate.EnergyGate``): sessions held, queue, admitted, ratio."""
    running = GaugeMetricFamily(f"{PREFIX}_generations_active", "Generations holding a route now")
    running.add_metric([], generator.active)
    yield running
    done = CounterMetricFamily(f"{PREFIX}_generations_completed", "Generations finished")
    done.add_metric([], generator.completed)
    yield done
    if not gates:
        return
    sessions = GaugeMetricFamily(f"{PREFIX}_energy_sessions", "Sessions the energy admission "
                                 "holds on the swarm now, by model", labels=["model"])
    waiting = GaugeMetricFamily(f"{PREFIX}_energy_queue", "Requests waiting in the energy "
                                "admission queue, by model", labels=["model"])
    ratio = GaugeMetricFamily(f"{PREFIX}_energy_users_per_inferer", "The inferer-to-user ratio: "
                              "sessions per inferer at most, by model", labels=["model"])
    admitted = CounterMetricFamily(f"{PREFIX}_energy_admitted", "Sessions admitted by energy "
                                   "admission, by model", labels=["model"])
    for model, gate in gates.items():
        sessions.add_metric([model], gate.scheduler.active)
        waiting.add_metric([model], gate.waiting)
        ratio.add_metric([model], gate.users_per_inferer)
        admitted.add_metric([model], gate.admitted)
    yield from (sessions, waiting, ratio, admitted)
