"""The Heliomesh gateway: an OpenAI-compatible API over the network, wallet payments by
EIP-712 vouchers, a per-IP free tier, contribution accounting, the web chat and the
live swarm dashboard. ``node`` never imports this package; ``helio gateway`` reaches the
CLI through the ``heliomesh.cli`` entry point declared in pyproject.toml.

- ``app``          ``create_app(gateway)``: the FastAPI app (routes, errors, web app)
- ``state``        ``Gateway`` (everything one process holds), ``build_gateway``
- ``settings``     ``GatewaySettings`` (``HELIO_GATEWAY_*``)
- ``openai/``      one package per OpenAI endpoint: router / protocol / serving
- ``engine``       ``Engine``: bounded concurrent generations in worker threads, cancellable
- ``routes``       ``ServedModel``, ``RouteFactory``, ``in_process_routes``
- ``swarm``        ``swarm_served_model``, ``SwarmDhtView`` (dashboard rows with verified energy)
- ``detok``        incremental detokenizing and ``stop`` strings for streaming
- ``admission``    paid (voucher) or free (rate-limited) per request, before any work
- ``energy``       ``EnergyGate``: energy admission for swarm-served models (queue, then
                   503 ``at_capacity``), routes pinned to the admitted inferers
- ``ratelimit``    ``FreeTier``: per-IP requests and tokens per minute (``limits``)
- ``payments/``    ``PaymentDesk`` (voucher checks and charging), channels (memory or
                   the Payments contract), batch redemption
- ``chain``        optional chain views: ``ChainLink``, ``StakeOracle``, ``ModelCatalog``
- ``accounting``   ``ContributionLedger``: work per inferer per epoch → signed Merkle root
- ``merkle``       OpenZeppelin-compatible Merkle tree of (account, amount)
- ``dashboard``    ``/api/swarm`` snapshots and SSE for the dashboard
- ``metrics``      requests/tokens per minute
- ``errors``       ``APIError`` and handlers: OpenAI's error shape everywhere
- ``server``       ``GatewayServer``: uvicorn in a thread on loopback
- ``cli``          ``helio gateway`` (entry point ``heliomesh.cli``)
- ``bench``        ``helio bench gateway`` / ``python -m gateway.bench``
- ``web/``         the React + TypeScript web app (chat + dashboard), built by Vite
"""
