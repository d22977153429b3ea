"""``GET /metrics``: the gateway's Prometheus metrics (docs/metrics.md).

- ``router``   the thin route: the ``Gateway``'s own registry in the text exposition format
- ``install``  ``install_metrics(app, gateway)``: the route and the HTTP middleware
               (prometheus-fastapi-instrumentator: latency and status per route), unless
               ``HELIO_GATEWAY_METRICS=false``
"""
