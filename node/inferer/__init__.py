"""The inferer (``helio node serve``): serves a span of a model to the swarm.

- ``config``     ``InfererConfig`` (named timeouts and periods), ``ChainConfig``, ``parse_blocks``
- ``server``     ``InfererServer``: join, choose/load the span, stake, announce, serve, drain; ``serve``
- ``service``    ``SpanService``: ``rpc_inference`` / ``rpc_push`` / ``rpc_info`` handlers on the engine's ``SpanHost``
- ``push``       ``PushChannels``: one persistent push stream per next server
- ``subspan``    ``sub_span``: blocks ``[a, b)`` of a loaded span, sharing its weights
- ``throughput`` ``measure_throughput``: decode tokens/s through the span
- ``energy``     ``EnergyOptions``, ``ServerEnergy``: the energy gate (``--energy``), signed reports in
                 the DHT record and, with a chain, posted to EnergyAttestations
- ``attest_gas`` ``python -m node.inferer.attest_gas``: attestation gas a running inferer really posts
"""
