"""Referee: route planning, energy-aware scheduling, spot-checks (ARCHITECTURE.md §2).

- ``planner``           ``RoutePlanner``: the lowest-latency chain of spans (swarm)
- ``stake``             ``StakeCache``: route only to staked inferers with their registered peer id
- ``energy``            ``EnergyClaim``, ``EnergyBook`` (latest verified claims + trend),
                        ``EnergyScheduler`` (rank inferers by headroom/battery/sun/load,
                        forecast drains, admission by the inferer-to-user ratio),
                        ``AtCapacityError``, ``greedy_chain``, ``planner_penalty``
- ``energy_admission``  ``AdmissionQueue``: FIFO wait before "at capacity"
- ``energy_claims``     signed energy reports (EIP-712) → verified ``EnergyClaim``
- ``energy_records``    ``RecordEnergy``: energy reports carried in DHT records, verified,
                        as the planner's ``penalty_ms`` (routing prefers headroom);
                        ``RecordEnergy.for_chain``: the deployed domain + registered keys
- ``energy_keys``       ``AttestationKeys``: ``attestationKeyOf`` per inferer, cached, fail closed
- ``ttl``               ``TtlMemo``: chain answers remembered for a while (stake, energy_keys)
"""
