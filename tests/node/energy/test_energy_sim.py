"""``helio sim energy``: the default scenario meets its targets, and the checks can fail."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from node.core.errors import ConfigError
from node.referee.energy import SchedulerConfig
from node.sim import Scenario, simulate

REQUIRED = (
    "coverage",
    "transitions_per_inferer_day",
    "served_outside_headroom_wh",
    "battery_wh_used",
    "requests_served",
    "requests_refused",
)


@pytest.fixture(scope="module")
def default_run():
    return simulate(Scenario())


@pytest.mark.slow
def test_default_scenario_meets_coverage_and_never_uses_the_grid(default_run) -> None:
    s = default_run.summary
    assert set(REQUIRED) <= set(s)
    assert s["coverage"] >= 0.95
    assert s["served_outside_headroom_wh"] == 0
    assert s["battery_wh_used"] > 0  # the nights run on stored sunshine
    assert s["requests_served"] > 0
    assert s["requests_arrived"] == (
        s["requests_served"] + s["requests_refused"] + s["requests_waiting_at_end"]
    )
    assert [p["utc_offset_h"] for p in s["per_inferer"]] == [-5.0, 1.0, 8.0, -5.0, 1.0, 8.0]
    assert len(default_run.times_h) == 24 * 60


@pytest.mark.slow
def test_without_batteries_coverage_drops(default_run) -> None:
    s = simulate(replace(Scenario(), battery_kwh=0.0)).summary
    assert s["coverage"] < default_run.summary["coverage"]
    assert s["coverage"] < 0.95
    assert s["battery_wh_used"] == 0
    assert s["transitions_per_inferer_day"] > 0


@pytest.mark.slow
def test_energy_aware_routing_puts_sessions_where_the_sun_is(default_run) -> None:
    """The same swarm with a headroom-blind scheduler (only load balancing) serves fewer
    sessions on inferers in surplus and drains the batteries more."""
    blind = SchedulerConfig(w_headroom=0.0, w_battery=0.0, w_sun=0.0, w_drain=0.0)
    s = simulate(replace(Scenario(), scheduler=blind)).summary
    aware = default_run.summary
    assert aware["sessions_in_sun_share"] > s["sessions_in_sun_share"] + 0.05
    assert aware["battery_wh_used"] < s["battery_wh_used"]


def test_split_spans_cover_the_model_per_zone() -> None:
    sc = Scenario(inferers=6, span_blocks=15, hours=2, warmup_hours=0)
    assert [sc.span_of(i) for i in range(6)] == [(0, 15), (0, 15), (0, 15), (15, 30), (15, 30), (15, 30)]
    s = simulate(replace(sc, date="06-21")).summary
    assert s["requests_served"] > 0


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(ConfigError, match="MM-DD"):
        Scenario(date="midsummer")
    with pytest.raises(ConfigError, match="site"):
        Scenario(site="atlantis")
    with pytest.raises(ConfigError, match="span_blocks"):
        Scenario(span_blocks=31)


def test_cli_prints_json_last_and_writes_the_plot(tmp_path) -> None:
    from typer.testing import CliRunner

    from node.cli.main import app

    png = tmp_path / "day.png"
    result = CliRunner().invoke(
        app,
        ["sim", "energy", "--inferers", "3", "--hours", "6", "--warmup-hours", "0",
         "--date", "june-solstice", "--plot", str(png), "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(REQUIRED) <= set(out) and out["inferers"] == 3 and out["plot"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
