"""Referee: route planning, stake checks, energy-aware scheduling and admission, and
contribution accounting (docs/design.md "Layers"; routing in docs/swarm.md "Routing",
energy in docs/energy.md §5, epochs in docs/gateway.md "Contribution accounting").
The gateway embeds a referee: it runs the ledger and closes the epochs below.

- ``planner``           ``RoutePlanner``: the lowest-latency chain of spans (swarm)
- ``stake``             ``StakeCache``: route only to staked inferers with their registered peer id;
                        ``is_active(address)`` (the gateway's contributors); ``StaticStakes``
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
- ``accounting``        ``ContributionLedger``: work per inferer per epoch → ``EpochRecord``
                        (pro-rata amounts, signed OpenZeppelin Merkle root, proofs)
- ``spotcheck``         ``SpotChecker``: sample finished sessions, re-execute on independent
                        inferers, postSpotCheck / fraud claims (docs/verification.md)
- ``audit``             ``HopRecord``, ``Execution``, ``Verdict``; fingerprint agreement per step
- ``reputation``        ``Reputation``: spot-check outcomes → score, exclusion; the planner's trust
- ``epochs``            ``close_epoch``: share the payee's Payments pool, sign an EIP-712
                        ``EpochRoot``, ``postEpochRoot``, clear the ledger after the receipt
                        (``EpochPayments``: what it needs of the contract); ``referee_key``
"""
