"""The Heliomesh gateway: an OpenAI-compatible API over the network, wallet payments by
EIP-712 vouchers, a per-IP free tier, contribution accounting, the web chat and the
live swarm dashboard. ``node`` never imports this package; ``helio gateway`` reaches the
CLI through the ``heliomesh.cli`` entry point declared in pyproject.toml.

The gateway is built on node's roles: it embeds a client (``node.client``: generation,
``detok``) and the referee's parts (``node.referee``: ``accounting``, ``epochs``,
``stake``; ``node.chain.merkle``), and adds the HTTP layer, payments and the web app.

- ``app``            ``create_app(gateway)``: assembles the routers, errors, web app, loops
- ``state``          ``Gateway`` (everything one process holds), ``build_gateway``
- ``settings``       ``GatewaySettings`` (``HELIO_GATEWAY_*``)
- ``openai/``        one package per OpenAI endpoint: router / protocol / serving
- ``health/``        ``GET /health``: router / serving
- ``payments/``      ``PaymentDesk`` (voucher checks and charging), channels (memory or
                     the Payments contract), batch redemption
- ``payment_terms/`` ``GET /v1/payments``: how to pay this gateway (router / serving)
- ``contributions/`` ``GET /v1/contributions`` (router); serving: the referee's epoch
                     closing wired to this gateway, the epoch loop
- ``dashboard/``     ``GET /api/swarm`` and its SSE stream (router); serving: snapshots
- ``webapp``         the built web app at ``/`` (or how to build it)
- ``generator``      ``Generator``: bounded concurrent generations in worker threads, cancellable
- ``served_model``   ``ServedModel``, ``RouteFactory``, ``in_process_routes``, ``as_swarm_route``
- ``swarm_view``     ``swarm_served_model``, ``SwarmDhtView`` (dashboard rows with verified energy)
- ``admission``      paid (voucher) or free (rate-limited) per request, before any work
- ``energy_gate``    ``EnergyGate``: energy admission for swarm-served models (queue, then
                     503 ``at_capacity``), routes pinned to the admitted inferers
- ``ratelimit``      ``FreeTier``: per-IP requests and tokens per minute (``limits``)
- ``chain_link``     ``ChainLink`` (the deployment), ``ModelCatalog`` (adoption, cached)
- ``metrics``        Prometheus counters (one registry per gateway), read by the dashboard and
                     ``/health``; ``prometheus``: ``GET /metrics`` and the HTTP middleware
- ``errors``         ``APIError`` and handlers: OpenAI's error shape everywhere
- ``deps``           ``GatewayDep``: the ``Gateway`` injected into routes
- ``server``         ``GatewayServer``: uvicorn in a thread on loopback
- ``launch``         ``serve_in_thread`` / ``ask`` for the demo
- ``cli``            ``helio gateway`` (entry point ``heliomesh.cli``)
- ``bench``          ``helio bench gateway`` / ``python -m gateway.bench``
- ``web/``           the React + TypeScript web app (chat + dashboard), built by Vite
"""
