"""Simulations that run the real node code on accelerated real data (``helio sim``).

- ``scenario``  ``Scenario``: every knob of the energy simulation, documented defaults
- ``users``     ``UserLoad``: synthetic users following their local day (Poisson)
- ``energy``    ``simulate``: real controllers + trace adapters + the referee scheduler
- ``plot``      ``plot_energy``: headroom, state and load per inferer over the day (PNG)

This layer sits beside ``bench`` (it imports ``energy`` and ``referee``).
"""

from node.sim.energy import SimResult, simulate
from node.sim.scenario import SEASONS, Scenario

__all__ = ["SEASONS", "Scenario", "SimResult", "simulate"]
