"""Inverter adapters: each normalises one inverter API to an ``EnergyReading``.

- ``base``     ``EnergyAdapter`` (the interface), ``register``, ``make_adapter``, ``AdapterError``
- ``sunspec``  SunSpec Modbus TCP (pysunspec2): inverter, battery and meter models
- ``fronius``  Fronius Solar API v1 ``GetPowerFlowRealtimeData``
- ``trace``    replay of real TMY irradiance through a simulated home + battery
- ``fixed``    values from the config or the command line

Adding an adapter: one module here with an ``@register("name")`` class (see ``base``),
imported below.
"""

from node.energy.adapters import fixed, fronius, sunspec, trace  # noqa: F401  (registration)
from node.energy.adapters.base import (
    ADAPTERS,
    AdapterError,
    EnergyAdapter,
    make_adapter,
    parse_options,
    register,
)
from node.energy.adapters.fixed import FixedAdapter
from node.energy.adapters.fronius import FroniusAdapter
from node.energy.adapters.sunspec import SunSpecAdapter
from node.energy.adapters.trace import TraceAdapter

__all__ = [
    "ADAPTERS",
    "AdapterError",
    "EnergyAdapter",
    "FixedAdapter",
    "FroniusAdapter",
    "SunSpecAdapter",
    "TraceAdapter",
    "make_adapter",
    "parse_options",
    "register",
]
