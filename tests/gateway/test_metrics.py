"""``GET /metrics`` of a real gateway on loopback (real SmolLM2): requests and tokens by
tier and model, the HTTP latency histogram, errors by status, vouchers accepted and
redeemed, epochs — scraped in Prometheus' text format, and the same numbers on the
dashboard (``/api/swarm``) and ``/health``. One registry per gateway; off with
``HELIO_GATEWAY_METRICS=false``."""

from __future__ import annotations

import time

import httpx
import pytest
from gwkit import CLIENT, INFERER, MODEL, QUESTION
from prometheus_client.parser import text_string_to_metric_families

from gateway.contributions.serving import close_epoch
from node.client.contributor import CONTRIBUTOR_HEADER, contributor_header
from node.client.vouchers import (
    VOUCHER_HEADER,
    VoucherWallet,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

CHAT = "/v1/chat/completions"


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``GET /metrics``: (name, labels) → value."""
    r = httpx.get(f"{url}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _chat(url: str, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    payload = {"model": MODEL, "messages": QUESTION, "max_tokens": 3, "temperature": 0, **body}
    return httpx.post(f"{url}{CHAT}", json=payload, headers=headers or {}, timeout=120)


def test_requests_tokens_latency_and_errors_are_scraped_and_match_the_dashboard(start_gateway) -> None:
    gw = start_gateway(stakers={INFERER.address})
    before = scrape(gw.url)
    assert value(before, "heliomesh_gateway_requests_total", tier="free", model=MODEL) == 0
    free = _chat(gw.url)
    assert free.status_code == 200, free.text
    contributor = _chat(gw.url, {CONTRIBUTOR_HEADER: contributor_header(INFERER.private_key, gw.gateway.desk.payee, gw.gateway.desk.domain.chain_id)})
    assert contributor.status_code == 200, contributor.text
    with httpx.stream("POST", f"{gw.url}{CHAT}", json={"model": MODEL, "messages": QUESTION, "max_tokens": 3,
                                                       "temperature": 0, "stream": True}, timeout=120) as r:
        assert r.status_code == 200 and "data: [DONE]" in r.read().decode()
    assert _chat(gw.url, model="no-such-model").status_code == 404

    samples = scrape(gw.url)
    used = {"free": [free.json()["usage"]], "contributor": [contributor.json()["usage"]]}
    streamed_prompt = free.json()["usage"]["prompt_tokens"]  # same messages, same template
    assert value(samples, "heliomesh_gateway_requests_total", tier="free", model=MODEL) == 2
    assert value(samples, "heliomesh_gateway_requests_total", tier="contributor", model=MODEL) == 1
    assert value(samples, "heliomesh_gateway_requests_total", tier="paid", model=MODEL) == 0
    assert value(samples, "heliomesh_gateway_prompt_tokens_total", tier="contributor", model=MODEL) == \
        used["contributor"][0]["prompt_tokens"]
    assert value(samples, "heliomesh_gateway_prompt_tokens_total", tier="free", model=MODEL) == \
        used["free"][0]["prompt_tokens"] + streamed_prompt
    # greedy: the streamed answer is the non-streamed one, token for token
    assert value(samples, "heliomesh_gateway_completion_tokens_total", tier="free", model=MODEL) == \
        2 * used["free"][0]["completion_tokens"]
    assert value(samples, "heliomesh_gateway_completion_tokens_total", tier="contributor", model=MODEL) == \
        used["contributor"][0]["completion_tokens"]
    # latency: one observation per HTTP request, per route and status (streams to their end)
    ok = {"handler": CHAT, "method": "POST", "status": "200"}
    assert value(samples, "heliomesh_gateway_http_request_duration_seconds_count", **ok) == 3
    assert value(samples, "heliomesh_gateway_http_request_duration_seconds_sum", **ok) > 0
    assert value(samples, "heliomesh_gateway_http_request_duration_seconds_bucket", **ok, le="+Inf") == 3
    assert value(samples, "heliomesh_gateway_http_requests_total", **ok) == 3
    assert value(samples, "heliomesh_gateway_errors_total", status="404") == 1
    assert value(samples, "heliomesh_gateway_http_requests_total", handler=CHAT, method="POST", status="404") == 1
    assert value(samples, "heliomesh_gateway_generations_completed_total") == 3

    # the dashboard and /health read the same registry
    dashboard = httpx.get(f"{gw.url}/api/swarm", timeout=30).json()["metrics"]
    assert dashboard["requests"] == {"free": 2, "contributor": 1}
    assert dashboard["requests_per_minute"] == 3
    prompt = sum(v for (name, _), v in samples.items() if name == "heliomesh_gateway_prompt_tokens_total")
    completion = sum(v for (name, _), v in samples.items() if name == "heliomesh_gateway_completion_tokens_total")
    assert dashboard["prompt_tokens"] == prompt and dashboard["completion_tokens"] == completion
    assert dashboard["completion_tokens_per_minute"] == completion
    assert dashboard["errors"] == {"404": 1}
    totals = httpx.get(f"{gw.url}/health", timeout=30).json()["totals"]
    assert totals == {k: v for k, v in dashboard.items() if not k.endswith("_per_minute")}
    # /metrics itself is not instrumented (scrapes do not count as traffic)
    assert not any(dict(labels).get("handler") == "/metrics" for _, labels in scrape(gw.url))


def test_vouchers_accepted_and_redeemed_and_epochs_are_counted(start_gateway) -> None:
    gw = start_gateway()
    info = httpx.get(f"{gw.url}/v1/payments").json()
    channel = gw.gateway.memory_channels.open(CLIENT.address, info["payee"], 10**18, int(time.time()) + 3600)
    wallet = VoucherWallet.from_gateway_info(info, private_key=CLIENT.private_key, channel=channel)
    for amount in (10_000, 20_000):
        r = _chat(gw.url, {VOUCHER_HEADER: wallet.header(amount * 10**12)})
        assert r.status_code == 200, r.text
    samples = scrape(gw.url)
    assert value(samples, "heliomesh_gateway_requests_total", tier="paid", model=MODEL) == 2
    assert value(samples, "heliomesh_gateway_vouchers_accepted_total") == 2
    assert value(samples, "heliomesh_gateway_vouchers_redeemed_total") == 0
    assert gw.gateway.redeem_loop.redeem_now() == 1  # the latest voucher of the one channel
    assert close_epoch(gw.gateway) is not None  # off-chain: closed and signed, not posted
    samples = scrape(gw.url)
    assert value(samples, "heliomesh_gateway_vouchers_redeemed_total") == 1
    assert value(samples, "heliomesh_gateway_redeem_batches_total") == 1
    assert value(samples, "heliomesh_gateway_epochs_closed_total") == 1
    assert value(samples, "heliomesh_gateway_epochs_posted_total") == 0
    assert httpx.get(f"{gw.url}/api/swarm").json()["metrics"]["requests"] == {"paid": 2}


def test_each_gateway_has_its_own_registry_and_metrics_can_be_off(start_gateway, monkeypatch) -> None:
    one, two = start_gateway(), start_gateway()
    assert httpx.get(f"{one.url}/v1/nothing").status_code == 404
    assert value(scrape(one.url), "heliomesh_gateway_errors_total", status="404") == 1
    assert value(scrape(two.url), "heliomesh_gateway_errors_total", status="404") == 0

    monkeypatch.setenv("HELIO_GATEWAY_METRICS", "false")
    off = start_gateway()
    assert off.gateway.settings.metrics is False
    assert httpx.get(f"{off.url}/metrics").status_code == 404
    assert _chat(off.url).status_code == 200
    assert httpx.get(f"{off.url}/api/swarm").json()["metrics"]["requests"] == {"free": 1}


def test_every_metric_is_documented_and_the_grafana_dashboard_uses_real_names() -> None:
    """docs/metrics.md lists every family both processes export; the sample Grafana
    dashboard only queries those."""
    import json
    import re
    from pathlib import Path
    from types import SimpleNamespace

    from gateway.metrics import Metrics, live_families
    from node.inferer.metrics import InfererMetrics

    docs = Path(__file__).resolve().parents[2] / "docs"
    page = (docs / "metrics.md").read_text()
    gateway = Metrics()
    gateway.watch(lambda: live_families(SimpleNamespace(active=0, completed=0), {"m": SimpleNamespace(
        scheduler=SimpleNamespace(active=0), waiting=0, users_per_inferer=8, admitted=0)}))
    energy = SimpleNamespace(
        controller=SimpleNamespace(last=SimpleNamespace(state=SimpleNamespace(label="online"),
                                                        headroom_avg_w=500.0, battery_soc=0.5)),
        runner=SimpleNamespace(reading=None), host=SimpleNamespace(capacity=8),
        attester=SimpleNamespace(posted=1), poster=None)
    server = SimpleNamespace(service=None, open_sessions=lambda: 0, state=SimpleNamespace(value="online"),
                             blocks=(0, 15), model_id="m", address="0x0", energy=energy)
    exported = set()
    for registry in (gateway.registry, InfererMetrics(server).registry):
        for family in registry.collect():
            exported.add(family.name + ("_total" if family.type == "counter" else ""))
    assert len(exported) >= 40
    missing = sorted(n for n in exported if f"`{n}`" not in page)
    assert not missing, f"undocumented in docs/metrics.md: {missing}"
    used = set(re.findall(r"heliomesh_\w+", json.dumps(json.loads((docs / "grafana-heliomesh.json").read_text()))))
    unknown = sorted(n for n in used if re.sub(r"_bucket$", "", n) not in exported)
    assert not unknown, f"the Grafana dashboard queries unknown metrics: {unknown}"
