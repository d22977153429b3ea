"""``helio sim energy``: the energy simulation (node/sim). ``--json`` prints one JSON object
as the last line; a PNG of the day is written unless ``--no-plot``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.pretty import pprint

from node.core.errors import ConfigError

app = typer.Typer(help="Simulations that run the real node code on accelerated real data.", no_args_is_help=True)
console = Console(stderr=True)
PlotPath = Annotated[
    Path | None, typer.Option("--plot", help="PNG path (default <cache>/sim/energy-<date>-<n>.png)")
]


def _zones(text: str) -> tuple[float, ...]:
    try:
        zones = tuple(float(z) for z in text.split(",") if z.strip())
    except ValueError as exc:
        raise ConfigError(f"--zones must be comma-separated UTC offsets like -5,1,8, got {text!r}") from exc
    if not zones or any(not -14 <= z <= 14 for z in zones):
        raise ConfigError(f"--zones needs offsets within -14..14, got {text!r}")
    return zones


@app.command()
def energy(
    hours: float = typer.Option(24.0, "--hours", help="simulated (measured) hours"),
    inferers: int = typer.Option(6, "--inferers", help="number of inferers"),
    zones: str = typer.Option("-5,1,8", "--zones", help="UTC offsets; inferers assigned round robin"),
    date: str = typer.Option(
        "march-equinox", "--date", help="MM-DD, march-equinox, june-solstice or december-solstice"
    ),
    site: str = typer.Option("greensboro", "--site", help="weather: greensboro, sand-point or miami"),
    kwp: float = typer.Option(5.0, "--kwp", help="panel size per inferer (kWp)"),
    battery_kwh: float = typer.Option(10.0, "--battery-kwh", help="battery per inferer; 0 = none"),
    inferer_w: float = typer.Option(300.0, "--inferer-w", help="machine draw at full load (W)"),
    house_kwh: float = typer.Option(8.0, "--house-kwh", help="house consumption per day (kWh)"),
    house_on_battery: bool = typer.Option(False, "--house-on-battery", help="the house uses the battery too"),
    users: float | None = typer.Option(None, "--users", help="mean active users (default 4 per inferer)"),
    span_blocks: int | None = typer.Option(None, "--span-blocks", help="blocks per inferer (default: all 30)"),
    warmup_hours: float = typer.Option(24.0, "--warmup-hours", help="unmeasured hours simulated first"),
    seed: int = typer.Option(7, "--seed"),
    scheduler: str = typer.Option(
        "energy", "--scheduler", help="energy (the referee's ranking) or blind (load balancing only: a baseline)"
    ),
    no_noise: bool = typer.Option(False, "--no-noise", help="no synthetic sub-hour cloud noise"),
    plot: PlotPath = None,
    no_plot: bool = typer.Option(False, "--no-plot", help="skip the PNG"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object as the last line"),
) -> None:
    """Inferers over real solar traces in several time zones, run by the real energy
    controller and referee scheduler, with synthetic users (defaults: docs/energy.md)."""
    from node.referee.energy import SchedulerConfig
    from node.sim import Scenario, simulate

    if scheduler not in ("energy", "blind"):
        raise ConfigError(f"--scheduler must be energy or blind, got {scheduler!r}")
    blind = SchedulerConfig(w_headroom=0.0, w_battery=0.0, w_sun=0.0, w_drain=0.0)
    scenario = Scenario(
        hours=hours,
        warmup_hours=warmup_hours,
        inferers=inferers,
        zones=_zones(zones),
        date=date,
        site=site,
        kwp=kwp,
        battery_kwh=battery_kwh,
        inferer_w=inferer_w,
        house_kwh_per_day=house_kwh,
        house_on_battery=house_on_battery,
        users=users,
        span_blocks=span_blocks,
        seed=seed,
        noise=not no_noise,
        scheduler=blind if scheduler == "blind" else SchedulerConfig(),
    )
    result = simulate(scenario)
    summary = dict(result.summary)
    summary["scheduler"] = scheduler
    if not no_plot:
        from node.core.settings import Settings
        from node.sim.plot import plot_energy

        path = plot or Settings().cache_dir / "sim" / f"energy-{scenario.date}-{scenario.inferers}.png"
        summary["plot"] = str(plot_energy(result, path))
        console.print(f"plot: {summary['plot']}")
    if as_json:
        print(json.dumps(summary))
    else:
        pprint(summary, console=Console(), expand_all=True)


@app.command("attest-gas")
def attest_gas(
    interval_s: float = typer.Option(3600.0, "--interval-s", help="periodic posting interval"),
    transitions_per_day: float = typer.Option(4.0, "--transitions-per-day", help="state changes a day"),
    batch: int = typer.Option(8, "--batch", help="reports per relayed submitBatch"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object as the last line"),
) -> None:
    """Gas of signed energy reports on a local anvil (submit, submitBatch, per inferer-day)."""
    from node.sim.gas import measure_attestation_gas

    result = measure_attestation_gas(interval_s=interval_s, transitions_per_day=transitions_per_day, batch=batch)
    if as_json:
        print(json.dumps(result))
    else:
        pprint(result, console=Console(), expand_all=True)
