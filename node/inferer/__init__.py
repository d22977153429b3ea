"""The inferer (``helio node serve``): serves a span of a model to the swarm.

- ``config``     ``InfererConfig`` (named timeouts and periods), ``ChainConfig``, ``EnergyOptions``,
                 ``parse_blocks``
- ``server``     ``InfererServer``: join, choose/load the span, stake, announce, serve, drain; ``serve``
- ``service``    ``SpanService``: ``rpc_inference`` / ``rpc_push`` / ``rpc_info`` handlers on the engine's ``SpanHost``
- ``push``       ``PushChannels``: one persistent push stream per next server (``wire.PUSH_HANDLER``)
- ``subspan``    ``sub_span``: blocks ``[a, b)`` of a loaded span, sharing its weights
- ``throughput`` ``measure_throughput``: decode tokens/s through the span
- ``energy``     ``ServerEnergy``: the energy gate (``--energy``), signed reports in the DHT record
                 and, with a chain, posted to EnergyAttestations; ``GatedServer``, what it needs
                 from the server (``InfererServer`` implements it)
- ``metrics``    ``InfererMetrics``: Prometheus metrics over HTTP (``--metrics-port``)
"""
