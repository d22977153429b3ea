"""The adapters read what real devices on loopback serve (SunSpec over a pymodbus server,
Fronius over an HTTP server), and fail with AdapterError when the device is gone."""

from __future__ import annotations

import pytest

from node.core.errors import ConfigError
from node.energy.adapters import (
    ADAPTERS,
    AdapterError,
    FixedAdapter,
    FroniusAdapter,
    SunSpecAdapter,
    make_adapter,
    parse_options,
)
from node.energy.clock import ManualClock

# The documented GetPowerFlowRealtimeData shape (Solar API v1), a hybrid inverter with
# a battery and a smart meter at the grid connection, at midday.
FRONIUS_DAY = {
    "Body": {
        "Data": {
            "Inverters": {
                "1": {"Battery_Mode": "normal", "DT": 1, "E_Day": None, "E_Total": 19290780.2,
                      "E_Year": None, "P": 3650.4, "SOC": 77.9}
            },
            "SecondaryMeters": {},
            "Site": {
                "BackupMode": False, "BatteryStandby": False, "E_Day": None, "E_Total": 19290780.2,
                "E_Year": None, "Meter_Location": "grid", "Mode": "bidirectional",
                "P_Akku": -1200.0, "P_Grid": -1450.5, "P_Load": -1000.0, "P_PV": 3650.5,
                "rel_Autonomy": 100.0, "rel_SelfConsumption": 60.3,
            },
            "Smartloads": {"Ohmpilots": {}},
            "Version": "12",
        }
    },
    "Head": {
        "RequestArguments": {},
        "Status": {"Code": 0, "Reason": "", "UserMessage": ""},
        "Timestamp": "2026-03-20T12:00:03+00:00",
    },
}


def test_registry_lists_every_adapter() -> None:
    assert {"sunspec", "fronius", "trace", "fixed"} <= set(ADAPTERS)
    with pytest.raises(ConfigError, match="unknown energy adapter"):
        make_adapter("victron-cloud")
    with pytest.raises(ConfigError, match="key=value"):
        parse_options(["host"])
    assert parse_options(["battery-soc=0.5", "available_w=900"]) == {
        "battery_soc": "0.5",
        "available_w": "900",
    }


def test_fixed_adapter_reads_its_config_values() -> None:
    clock = ManualClock(1000.0)
    adapter = make_adapter("fixed", clock=clock, **parse_options(["available_w=900", "house_w=250", "battery_soc=0.6"]))
    r = adapter.read()
    assert (r.available_w, r.headroom_w, r.battery_soc, r.timestamp) == (900.0, 650.0, 0.6, 1000.0)
    with pytest.raises(ConfigError, match="battery_soc"):
        FixedAdapter(available_w=100, battery_soc=1.5)
    with pytest.raises(ConfigError, match="must be a number"):
        FixedAdapter(available_w="lots")


# --- SunSpec ---------------------------------------------------------------------------


def test_sunspec_reads_inverter_battery_and_meter(sunspec_device) -> None:
    dev = sunspec_device({
        103: {"W": 3210, "W_SF": 0, "DCW": 3400, "DCW_SF": 0, "St": 4},
        802: {"SoC": 655, "SoC_SF": -1, "WHRtg": 1000, "WHRtg_SF": 1, "W": -800, "W_SF": 0},
        203: {"W": -1200, "W_SF": 0},  # exporting 1.2 kW
    })
    adapter = SunSpecAdapter(port=dev.port, timeout_s=2, clock=ManualClock(5.0))
    r = adapter.read(self_draw_w=300.0)
    assert r.source == "sunspec" and r.timestamp == 5.0
    assert r.available_w == 3210.0
    assert r.battery_soc == pytest.approx(0.655)
    assert r.battery_capacity_wh == 10_000.0
    assert r.battery_power_w == 800.0  # charging
    # house = pv + grid import + battery discharge - inferer = 3210 - 1200 - 800 - 300
    assert r.headroom_w == pytest.approx(3210.0 - (3210 - 1200 - 800 - 300))
    adapter.close()


def test_sunspec_follows_changed_registers_and_scale_factors(sunspec_device) -> None:
    dev = sunspec_device({103: {"W": 250, "W_SF": 1, "St": 4}, 124: {"ChaState": 40, "ChaState_SF": 0}})
    adapter = SunSpecAdapter(port=dev.port, house_w=400, timeout_s=2)
    first = adapter.read()
    assert first.available_w == 2500.0 and first.battery_soc == pytest.approx(0.40)
    assert first.headroom_w == 2100.0  # no meter: the configured house load
    dev.set(103, W=12)
    dev.set(124, ChaState=41)
    second = adapter.read()
    assert second.available_w == 120.0 and second.battery_soc == pytest.approx(0.41)
    assert second.headroom_w == -280.0
    adapter.close()


def test_sunspec_dead_device_raises_adapter_error(sunspec_device) -> None:
    dev = sunspec_device({103: {"W": 1000, "W_SF": 0, "St": 4}})
    adapter = SunSpecAdapter(port=dev.port, timeout_s=1)
    assert adapter.read().available_w == 1000.0
    dev.stop()
    with pytest.raises(AdapterError, match="unreadable"):
        adapter.read()
    with pytest.raises(AdapterError):  # still down: rescans and fails again, cleanly
        adapter.read()


def test_sunspec_without_inverter_model_says_so(sunspec_device) -> None:
    dev = sunspec_device({802: {"SoC": 500, "SoC_SF": -1}})
    with pytest.raises(AdapterError, match="no inverter model"):
        SunSpecAdapter(port=dev.port, timeout_s=2).read()


# --- Fronius ---------------------------------------------------------------------------


def test_fronius_reads_the_power_flow(fronius_server) -> None:
    fronius_server.doc = FRONIUS_DAY
    adapter = FroniusAdapter(port=fronius_server.port, clock=ManualClock(9.0))
    r = adapter.read(self_draw_w=300.0)
    assert r.available_w == 3650.5
    assert r.battery_soc == pytest.approx(0.779)
    assert r.battery_power_w == 1200.0  # P_Akku -1200: charging
    # P_Load -1000 includes the 300 W inferer: house alone 700 W.
    assert r.headroom_w == pytest.approx(3650.5 - 700.0)
    assert fronius_server.requests == 1


def test_fronius_night_without_meter(fronius_server) -> None:
    doc = {
        "Body": {"Data": {"Inverters": {"1": {"DT": 102, "P": None}},
                          "Site": {"Mode": "produce-only", "P_Akku": None, "P_Grid": None,
                                   "P_Load": None, "P_PV": None}}},
        "Head": {"Status": {"Code": 0}},
    }
    fronius_server.doc = doc
    r = FroniusAdapter(port=fronius_server.port, house_w=150).read()
    assert (r.available_w, r.headroom_w, r.battery_soc) == (0.0, -150.0, None)


def test_fronius_errors_are_adapter_errors(fronius_server) -> None:
    adapter = FroniusAdapter(port=fronius_server.port, timeout_s=2)
    fronius_server.doc = {"Head": {"Status": {"Code": 8, "Reason": "Device busy"}}, "Body": {}}
    with pytest.raises(AdapterError, match="Device busy"):
        adapter.read()
    fronius_server.doc = b"<html>not json</html>"
    with pytest.raises(AdapterError, match="not JSON"):
        adapter.read()
    fronius_server.doc = {"Head": {"Status": {"Code": 0}}, "Body": {"Data": {}}}
    with pytest.raises(AdapterError, match="lacks power-flow"):
        adapter.read()
    fronius_server.stop()
    with pytest.raises(AdapterError, match="unreachable"):
        adapter.read()
