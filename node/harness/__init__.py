"""Harnesses: real processes started the way an operator starts them (``helio …`` in a
subprocess), for the demo, the integration tests and the benchmarks. Top floor: nothing in
a role folder imports it, and it reaches the CLI only through ``python -m node.cli.main``.

- ``swarm``       ``LocalSwarm``: a bootstrap peer and inferer processes on loopback
- ``attest_gas``  ``python -m node.harness.attest_gas``: the attestation gas a running
                  inferer really posts (anvil + bootstrap + one inferer on a fast trace clock)
"""
