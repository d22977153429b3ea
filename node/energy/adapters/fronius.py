"""``fronius``: Fronius Solar API v1, ``GET /solar_api/v1/GetPowerFlowRealtimeData.fcgi``.

Fields used (Fronius sign conventions, from the Solar API v1 specification):
``Body.Data.Site.P_PV`` PV power (W, ``null`` at night or without PV), ``P_Load`` house
consumption (W, negative = consuming; ``null`` without a meter), ``Body.Data.Inverters.<n>.SOC``
battery state of charge (%, hybrid inverters only), ``Head.Status.Code`` (0 = OK).

Headroom = ``P_PV - (-P_Load)``, plus the inferer's own draw when ``P_Load`` includes it
(``load_includes_inferer=True``, the default: the inferer is plugged into the house).
Without a meter (``P_Load`` null) the house load is the ``house_w`` option.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from node.energy.adapters.base import (
    AdapterError,
    EnergyAdapter,
    as_bool,
    as_float,
    as_optional_float,
    register,
)
from node.energy.clock import Clock, WallClock
from node.energy.reading import EnergyReading

POWER_FLOW_PATH = "/solar_api/v1/GetPowerFlowRealtimeData.fcgi"


@register("fronius")
class FroniusAdapter(EnergyAdapter):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | str = 80,
        *,
        timeout_s: float | str = 3.0,  # one HTTP request; a slow datalogger counts as a failure
        house_w: float | str = 0.0,  # house load used when the site has no meter
        load_includes_inferer: bool | str = True,
        battery_capacity_wh: float | str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.url = f"http://{host}:{int(port)}{POWER_FLOW_PATH}"
        self.timeout_s = as_float(timeout_s, "timeout_s")
        self.house_w = as_float(house_w, "house_w")
        self.load_includes_inferer = as_bool(load_includes_inferer)
        self.battery_capacity_wh = as_optional_float(battery_capacity_wh, "battery_capacity_wh")
        self.clock = clock or WallClock()

    def fetch(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as resp:
                body = resp.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise AdapterError(f"Fronius datalogger at {self.url} unreachable: {exc}") from exc
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise AdapterError(f"Fronius answer from {self.url} is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise AdapterError(f"Fronius answer from {self.url} is not a JSON object")
        return doc

    def read(self, self_draw_w: float = 0.0) -> EnergyReading:
        return self.parse(self.fetch(), self_draw_w)

    def parse(self, doc: dict[str, Any], self_draw_w: float = 0.0) -> EnergyReading:
        try:
            status = doc["Head"]["Status"]
            if int(status.get("Code", 0)) != 0:
                raise AdapterError(
                    f"Fronius API error {status.get('Code')}: {status.get('Reason') or status.get('UserMessage')}"
                )
            data = doc["Body"]["Data"]
            site = data["Site"]
            pv = float(site.get("P_PV") or 0.0)
            p_load = site.get("P_Load")
            if p_load is None:
                house = self.house_w
            else:
                house = -float(p_load)  # Fronius: negative = consumption
                if self.load_includes_inferer:
                    house -= self_draw_w
            soc = None
            for inv in (data.get("Inverters") or {}).values():
                if isinstance(inv, dict) and inv.get("SOC") is not None:
                    soc = float(inv["SOC"]) / 100.0
                    break
        except AdapterError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AdapterError(f"Fronius answer from {self.url} lacks power-flow fields: {exc!r}") from exc
        if pv < 0 or (soc is not None and not 0.0 <= soc <= 1.0):
            raise AdapterError(f"Fronius values out of range: P_PV={pv}, SOC={soc}")
        akku = site.get("P_Akku")
        return EnergyReading(
            timestamp=self.clock.now(),
            source=self.name,
            available_w=pv,
            headroom_w=pv - max(0.0, house),
            battery_soc=soc,
            battery_capacity_wh=self.battery_capacity_wh,
            battery_power_w=-float(akku) if akku is not None else None,  # Fronius: + = discharge
        )

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "url": self.url}
