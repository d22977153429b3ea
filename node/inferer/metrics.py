"""An inferer's Prometheus metrics (``helio node serve --metrics-port N``): its own
``CollectorRegistry`` served over HTTP on loopback by default (``--metrics-host`` to
change). docs/metrics.md lists every metric.

Step latency is observed as each step finishes (``SpanService.on_step``); everything
else is read from the server when scraped (sessions, KV cache, state, energy,
attestations, the span service's counters — kept monotonic across span moves and
energy unloads, which replace the service)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

PREFIX = "heliomesh_inferer"
# One step = a forward of the span for one session (prefill: many tokens; decode: one).
STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SERVER_STATES = ("joining", "loading", "online", "draining", "offline")
ENERGY_STATES = ("joining", "loading", "online", "draining", "offline")
_STATS = (  # SpanService.stats field → (counter name, help)
    ("opened", "sessions_opened", "Sessions opened"),
    ("pushes", "pushes", "Steps pushed to the next server and acknowledged"),
    ("push_failures", "push_failures", "Pushes to the next server that failed (the client "
                                       "sends the step itself)"),
    ("errors", "session_errors", "Sessions ended by an error (bad input, engine error)"),
)


@dataclass(frozen=True)
class MetricsOptions:
    port: int  # 0: a free port (logged)
    host: str = "127.0.0.1"


class InfererMetrics(Collector):
    """``server`` is the ``InfererServer`` (read at scrape time, duck-typed: this module
    sits below it)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.registry = CollectorRegistry()
        self.step_seconds = Histogram(
            f"{PREFIX}_step_seconds", "Compute time of one step (a span forward for one "
            "session, batched with others), seconds", buckets=STEP_BUCKETS, registry=self.registry)
        self.steps = Counter(f"{PREFIX}_steps", "Steps served", registry=self.registry)
        self.tokens = Counter(f"{PREFIX}_tokens", "Token positions served (a prefill step "
                              "counts its whole prompt chunk)", registry=self.registry)
        self.spot_checks_passed = Counter(
            f"{PREFIX}_spot_checks_passed", "Spot-checks of this inferer's signed outputs that "
            "passed; stays 0 until spot-check verification exists", registry=self.registry)
        self.spot_checks_failed = Counter(
            f"{PREFIX}_spot_checks_failed", "Spot-checks of this inferer's signed outputs that "
            "failed; stays 0 until spot-check verification exists", registry=self.registry)
        self._retired = {field: 0 for field, _, _ in _STATS}  # counts of replaced services
        self.registry.register(self)
        self._http: Any = None

    # --- recording -------------------------------------------------------------------------
    def on_step(self, compute_s: float, tokens: int) -> None:
        self.step_seconds.observe(compute_s)
        self.steps.inc()
        self.tokens.inc(tokens)

    def retire(self, stats: Any) -> None:
        """A span service is dropped (move, energy unload): keep its counts."""
        for field in self._retired:
            self._retired[field] += int(getattr(stats, field))

    # --- scrape-time families -----------------------------------------------------------------
    def collect(self) -> Iterable[Metric]:
        s = self.server
        service = s.service
        stats = service.stats if service is not None else None
        for field, name, doc in _STATS:
            family = CounterMetricFamily(f"{PREFIX}_{name}", doc)
            family.add_metric([], self._retired[field] + (getattr(stats, field) if stats else 0))
            yield family
        sessions = GaugeMetricFamily(f"{PREFIX}_sessions_open", "Client sessions open now")
        sessions.add_metric([], s.open_sessions())
        yield sessions
        used = GaugeMetricFamily(f"{PREFIX}_kv_cache_tokens_used", "KV-cache tokens reserved by "
                                 "open sessions")
        capacity = GaugeMetricFamily(f"{PREFIX}_kv_cache_tokens_capacity", "KV-cache budget over "
                                     "all sessions, tokens (--cache-tokens)")
        if service is not None:
            host = service.main_host
            host_stats = host.stats()
            per_token = max(int(host.kv_bytes(1)), 1)
            total = int(host_stats["budget_bytes"]) // per_token
            capacity.add_metric([], total)
            used.add_metric([], max(total - int(host_stats["free_tokens"]), 0))
        else:
            capacity.add_metric([], 0)
            used.add_metric([], 0)
        yield from (used, capacity)
        state = GaugeMetricFamily(f"{PREFIX}_state", "1 for the server's announced state "
                                  "(joining, loading, online, draining, offline)", labels=["state"])
        current = getattr(s.state, "value", str(s.state))
        for name in SERVER_STATES:
            state.add_metric([name], 1.0 if name == current else 0.0)
        yield state
        info = GaugeMetricFamily(f"{PREFIX}_span", "The blocks this server holds: 1, labelled with "
                                 "model, address and blocks [start, end)",
                                 labels=["model", "address", "start", "end"])
        if s.blocks is not None:
            info.add_metric([s.model_id, s.address, str(s.blocks[0]), str(s.blocks[1])], 1.0)
        yield info
        yield from self._energy(s.energy)

    def _energy(self, energy: Any) -> Iterable[Metric]:
        """--energy: the controller's state and averaged headroom, its session capacity,
        the signed reports and the chain posts (absent without --energy)."""
        if energy is None:
            return
        last = energy.controller.last
        state = GaugeMetricFamily(f"{PREFIX}_energy_state", "1 for the energy controller's state "
                                  "(joining, loading, online, draining, offline)", labels=["state"])
        current = last.state.label if last is not None else "joining"
        for name in ENERGY_STATES:
            state.add_metric([name], 1.0 if name == current else 0.0)
        yield state
        headroom = GaugeMetricFamily(f"{PREFIX}_energy_headroom_watts", "Averaged power headroom "
                                     "beyond this machine's draw, W (the controller's window)")
        headroom.add_metric([], float(last.headroom_avg_w) if last is not None else 0.0)
        yield headroom
        reading = energy.runner.reading
        instant = GaugeMetricFamily(f"{PREFIX}_energy_headroom_now_watts", "Power headroom of the "
                                    "latest reading, W (NaN without a reading)")
        instant.add_metric([], float(reading.headroom_w) if reading is not None else float("nan"))
        yield instant
        capacity = GaugeMetricFamily(f"{PREFIX}_energy_capacity_sessions", "Sessions the energy "
                                     "allows now")
        capacity.add_metric([], energy.host.capacity)
        yield capacity
        if last is not None and last.battery_soc is not None:
            soc = GaugeMetricFamily(f"{PREFIX}_energy_battery_soc", "Battery state of charge, 0-1")
            soc.add_metric([], float(last.battery_soc))
            yield soc
        signed = CounterMetricFamily(f"{PREFIX}_attestations", "Signed energy reports due for "
                                     "posting (every state change, else at most once per "
                                     "--attest-interval)")
        signed.add_metric([], energy.attester.posted)
        yield signed
        poster = energy.poster
        posted = CounterMetricFamily(f"{PREFIX}_attestations_posted", "Energy reports that reached "
                                     "the chain (EnergyAttestations; 0 without --rpc-url)")
        posted.add_metric([], poster.reports_posted if poster is not None else 0)
        yield posted
        failed = CounterMetricFamily(f"{PREFIX}_attestation_post_failures", "Failed posts of "
                                     "energy reports (retried with the next report due)")
        failed.add_metric([], len(poster.errors) if poster is not None else 0)
        yield failed

    # --- serving ---------------------------------------------------------------------------
    def serve(self, options: MetricsOptions) -> int:
        """Start the HTTP endpoint in a daemon thread; returns the port."""
        server, _thread = start_http_server(options.port, options.host, registry=self.registry)
        self._http = server
        port = int(server.server_address[1])
        log.info("metrics: http://%s:%d/metrics", options.host, port)
        return port

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
