"""``sunspec``: any SunSpec-compliant inverter over Modbus TCP, via ``pysunspec2``.

The adapter scans the device once (``SunS`` marker at 40000, 0 or 50000) and then
re-reads only the models it uses:

- PV power: the first inverter model found among 101/102/103 (integer + scale factor),
  111/112/113 (float) and 701 (DER AC measurement): point ``W`` (AC watts). With
  ``pv_from="dc"`` it reads ``DCW`` instead (hybrid inverters whose AC output includes
  battery discharge).
- Battery: model 802 (``SoC`` %, ``WHRtg`` Wh, ``W``) or else model 124 (``ChaState`` %).
- House load: a meter model 201-204 (``W``, total real power at the grid connection)
  gives ``house = pv + grid_import + battery_discharge`` (minus the inferer's own draw:
  the meter sees it). Sign conventions differ between vendors, so both are options:
  ``meter_import_positive`` (default true: + = importing from the grid) and
  ``battery_discharge_positive`` (default true: + = discharging). Without a meter the
  house load is the ``house_w`` option.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from node.core.errors import ConfigError
from node.energy.adapters.base import (
    AdapterError,
    EnergyAdapter,
    as_bool,
    as_float,
    register,
)
from node.energy.clock import Clock, WallClock
from node.energy.reading import EnergyReading

INVERTER_MODELS = (103, 102, 101, 113, 112, 111, 701)
METER_MODELS = (203, 204, 201, 202, 213, 214, 211, 212)


@register("sunspec")
class SunSpecAdapter(EnergyAdapter):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | str = 502,
        *,
        unit_id: int | str = 1,
        timeout_s: float | str = 3.0,  # per Modbus request; a silent device counts as a failure
        pv_from: str = "ac",
        house_w: float | str = 0.0,
        meter_import_positive: bool | str = True,
        battery_discharge_positive: bool | str = True,
        clock: Clock | None = None,
    ) -> None:
        if pv_from not in ("ac", "dc"):
            raise ConfigError(f"pv_from must be 'ac' or 'dc', got {pv_from!r}")
        self.host, self.port, self.unit_id = host, int(port), int(unit_id)
        self.timeout_s = as_float(timeout_s, "timeout_s")
        self.pv_from = pv_from
        self.house_w = as_float(house_w, "house_w")
        self.meter_sign = 1.0 if as_bool(meter_import_positive) else -1.0
        self.battery_sign = 1.0 if as_bool(battery_discharge_positive) else -1.0
        self.clock = clock or WallClock()
        self._device: Any = None
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- connection -------------------------------------------------------------------
    def _connect_and_scan(self) -> None:
        from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

        dev = SunSpecModbusClientDeviceTCP(
            slave_id=self.unit_id, ipaddr=self.host, ipport=self.port, timeout=self.timeout_s
        )
        dev.connect()
        dev.scan(connect=False)
        models: dict[str, Any] = {}
        for mid in INVERTER_MODELS:
            if dev.models.get(mid):
                models["inverter"] = dev.models[mid][0]
                break
        if "inverter" not in models:
            dev.disconnect()
            found = sorted(k for k in dev.models if isinstance(k, int))
            raise AdapterError(
                f"SunSpec device {self.host}:{self.port} has no inverter model "
                f"(found models {found}); is this the inverter's unit id?"
            )
        if dev.models.get(802):
            models["battery"] = dev.models[802][0]
        elif dev.models.get(124):
            models["storage"] = dev.models[124][0]
        for mid in METER_MODELS:
            if dev.models.get(mid):
                models["meter"] = dev.models[mid][0]
                break
        self._device, self._models = dev, models

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- reading ----------------------------------------------------------------------
    def read(self, self_draw_w: float = 0.0) -> EnergyReading:
        with self._lock:
            try:
                if self._device is None:
                    self._connect_and_scan()
                else:
                    for model in self._models.values():
                        model.read()
                return self._reading(self_draw_w)
            except AdapterError:
                self._drop()
                raise
            except Exception as exc:  # pysunspec2 raises plain Exceptions on socket errors
                self._drop()
                raise AdapterError(
                    f"SunSpec device {self.host}:{self.port} unreadable: {exc}"
                ) from exc

    def _drop(self) -> None:
        if self._device is not None:
            with contextlib.suppress(Exception):  # closing a broken socket must not raise
                self._device.disconnect()
        self._device, self._models = None, {}

    def _reading(self, self_draw_w: float) -> EnergyReading:
        inv = self._models["inverter"]
        point = "DCW" if self.pv_from == "dc" else "W"
        pv = _value(inv, point)
        if pv is None:
            raise AdapterError(f"SunSpec inverter model {inv.model_id} does not implement {point}")
        pv = max(0.0, pv)
        soc = capacity = batt_w = None
        if "battery" in self._models:
            bat = self._models["battery"]
            soc = _value(bat, "SoC")
            capacity = _value(bat, "WHRtg")
            raw_w = _value(bat, "W")
            batt_w = None if raw_w is None else -self.battery_sign * raw_w  # + = charging
        elif "storage" in self._models:
            soc = _value(self._models["storage"], "ChaState")
        if soc is not None:
            soc /= 100.0
            if not 0.0 <= soc <= 1.0:
                raise AdapterError(f"SunSpec battery state of charge out of range: {soc * 100:.1f} %")
        if "meter" in self._models:
            grid = _value(self._models["meter"], "W")
            if grid is None:
                raise AdapterError("SunSpec meter does not implement W")
            discharge = -batt_w if batt_w is not None else 0.0
            house = pv + self.meter_sign * grid + discharge - self_draw_w
        else:
            house = self.house_w
        return EnergyReading(
            timestamp=self.clock.now(),
            source=self.name,
            available_w=pv,
            headroom_w=pv - max(0.0, house),
            battery_soc=soc,
            battery_capacity_wh=capacity,
            battery_power_w=batt_w,
        )

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "host": self.host, "port": self.port, "unit_id": self.unit_id}


def _value(model: Any, name: str) -> float | None:
    """A point's value with its scale factor applied; None when not implemented."""
    point = getattr(model, name, None) if name in model.points else None
    if point is None:
        return None
    value = point.cvalue
    return None if value is None else float(value)
