"""``plot_energy(result, path)``: one PNG of the simulated day.

Top panel: the swarm (active sessions stacked by the zone of the inferer serving them,
15-minute means; queued sessions; online inferers). Then one panel
per inferer: renewable headroom (panels minus house) and its rolling average, the
machine's draw, the battery state of charge (right axis), and the inferer state as a
background colour (green online, amber loading/draining, grey offline).
"""

from __future__ import annotations

import math
from pathlib import Path

from node.energy.state import InfererState
from node.sim.energy import SimResult

STATE_COLOURS = {
    InfererState.ONLINE: "#c8ecc8",
    InfererState.LOADING: "#ffe2a8",
    InfererState.DRAINING: "#ffc48a",
    InfererState.OFFLINE: "#e4e4e4",
    InfererState.JOINING: "#ffffff",
}


def _state_bands(ax: object, times: list[float], states: list[float], step_h: float) -> None:
    start = 0
    for i in range(1, len(states) + 1):
        if i == len(states) or states[i] != states[start]:
            colour = STATE_COLOURS[InfererState(int(states[start]))]
            end = times[i - 1] + step_h
            ax.axvspan(times[start], end, color=colour, lw=0, zorder=0)  # type: ignore[attr-defined]
            start = i


def _smooth(values: list[float], n: int) -> list[float]:
    """Trailing mean over ``n`` records (the minute-by-minute counts are Poisson noise)."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def plot_energy(result: SimResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = result.scenario
    times = result.times_h
    rows = len(result.inferers) + 1
    fig, axes = plt.subplots(rows, 1, figsize=(12, 1.6 * rows + 1.5), sharex=True, squeeze=False)
    ax0 = axes[0][0]
    zones = [k for k in result.swarm if k.startswith("sessions_utc")]
    ax0.stackplot(
        times,
        *[_smooth(result.swarm[k], 15) for k in zones],
        labels=[f"sessions on {k.removeprefix('sessions_').upper()}" for k in zones],
        colors=["#1f6fb4", "#6baed6", "#9ecae1", "#c6dbef"][: len(zones)] + ["#ddd"] * max(0, len(zones) - 4),
        alpha=0.8,
    )
    ax0.plot(times, result.swarm["queue"], color="#d62728", lw=1, label="queued")
    ax0.set_ylabel("sessions")
    ax0b = ax0.twinx()
    ax0b.step(times, result.swarm["online"], color="#2ca02c", lw=1.2, where="post", label="online inferers")
    ax0b.set_ylabel("online")
    ax0b.set_ylim(0, len(result.inferers) + 0.5)
    lines = ax0.get_legend_handles_labels()
    lines_b = ax0b.get_legend_handles_labels()
    ax0.legend(lines[0] + lines_b[0], lines[1] + lines_b[1], loc="upper left", fontsize=7, ncol=3)
    s = result.summary
    ax0.set_title(
        f"{sc.inferers} inferers, {sc.date}, zones {', '.join(f'UTC{z:+g}' for z in sc.zones)}, "
        f"{sc.kwp:g} kWp / {sc.battery_kwh:g} kWh / {sc.inferer_w:g} W — coverage {s['coverage']:.3f}, "
        f"grid {s['served_outside_headroom_wh']:.1f} Wh, served {s['requests_served']}, "
        f"refused {s['requests_refused']}",
        fontsize=9,
    )
    step_h = sc.record_s / 3600.0
    top = max(1.0, max(max(inf.series.get("pv_w", [0.0])) for inf in result.inferers))
    for inf, row in zip(result.inferers, axes[1:], strict=True):
        ax = row[0]
        ser = inf.series
        _state_bands(ax, times, ser["state"], step_h)
        ax.plot(times, ser["headroom_w"], color="#f0a000", lw=0.6, label="headroom (W)")
        ax.plot(times, ser["headroom_avg_w"], color="#b06000", lw=1.0, label="rolling avg (W)")
        ax.fill_between(times, ser["draw_w"], color="#1f6fb4", alpha=0.5, lw=0, label="inferer draw (W)")
        ax.axhline(sc.controller_config().upper, color="#555", lw=0.5, ls="--")
        ax.axhline(sc.controller_config().lower, color="#555", lw=0.5, ls=":")
        ax.set_ylim(min(-500.0, min(ser["headroom_w"])), top * 1.05)
        ax.set_ylabel(f"{inf.name}\nUTC{inf.zone:+g}", fontsize=8)
        soc = ser["soc"]
        if any(not math.isnan(v) for v in soc):
            axb = ax.twinx()
            axb.plot(times, [v * 100 for v in soc], color="#7b3fbf", lw=1.0, label="battery (%)")
            axb.set_ylim(0, 105)
            axb.tick_params(labelsize=7)
        if inf is result.inferers[0]:
            ax.legend(loc="upper left", fontsize=7, ncol=3)
    axes[-1][0].set_xlabel(f"hours after 00:00 UTC ({sc.date}); background: green online, amber loading/draining, grey offline")
    axes[-1][0].set_xlim(0, sc.hours)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
