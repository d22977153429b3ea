"""Energy: inferers run only on renewable power (ARCHITECTURE.md §8).

- ``reading``     ``EnergyReading``: what every adapter returns (power, headroom, battery)
- ``adapters/``   inverter adapters (SunSpec Modbus, Fronius Solar API, trace replay,
                  fixed values) behind one interface; ``make_adapter(name, **options)``
- ``traces``      real TMY irradiance from pvlib → PV watts, time zones, cloud noise,
                  house load profile
- ``battery``     ``Battery``/``BatterySpec``: capacity, power limits, efficiency, floor
- ``site``        ``HomeSite``: panels + house + battery + inferer with energy bookkeeping
- ``clock``       wall, accelerated (demo) and manual (simulation) clocks
- ``state``       ``InfererState`` (joining, loading, online, draining, offline)
- ``controller``  ``EnergyController``: rolling average, hysteresis, dwell, battery
                  reserve, fail safe — a pure state machine
- ``serving``     ``ServingHost``: what the runner loads and unloads (the inferer's: ``node.inferer.energy``)
- ``runner``      ``EnergyRunner``: the async loop tying adapter, controller and host
- ``attest``      signed EIP-712 energy reports and the posting policy
"""

from node.energy.controller import ControllerConfig, Decision, EnergyController
from node.energy.reading import EnergyReading
from node.energy.state import InfererState

__all__ = ["ControllerConfig", "Decision", "EnergyController", "EnergyReading", "InfererState"]
