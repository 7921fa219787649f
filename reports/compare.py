"""One model on several chips side by side: time, throughput, utilisation, traffic, the time
per op and per layer, and one roofline holding every chip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hw.results import RunResult
from reports.ceilings import Ceilings
from reports.html import archsim_version, environment
from reports.overview import Overview, overview, time_by_op
from reports.plots import data_uri, new_figure, style
from reports.roofline import RooflineSeries, roofline_figure, roofline_points
from reports.serialize import save_result
from reports.tables import layer_rows

# One colour per chip (Okabe & Ito).
CHIP_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


@dataclass(frozen=True)
class Compared:
    """One chip's run in a comparison."""

    result: RunResult
    ceilings: Ceilings
    overview: Overview
    level_bytes: dict[str, int]  # roofline level name -> bytes over the run
    colour: str


def compared(runs: Sequence[tuple[RunResult, Ceilings]]) -> list[Compared]:
    """The runs with their totals and a colour each."""
    out = []
    for i, (result, ceilings) in enumerate(runs):
        rows = layer_rows(result, ceilings)
        levels = {m.name: sum(r.level_bytes[m.name] for r in rows) for m in ceilings.memory}
        out.append(Compared(result, ceilings, overview(result, ceilings, rows), levels,
                            CHIP_COLOURS[i % len(CHIP_COLOURS)]))
    return out


def _grouped(ax: Any, groups: list[str], chips: Sequence[Compared],
             values: Mapping[str, Sequence[float]]) -> None:
    width = 0.8 / max(len(chips), 1)
    x = np.arange(len(groups))
    for i, c in enumerate(chips):
        ax.bar(x + (i - (len(chips) - 1) / 2) * width, values[c.result.hw], width,
               color=c.colour, label=c.result.hw)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.grid(True, axis="y", alpha=0.3)


def comparison_figure(chips: Sequence[Compared], title: str) -> Figure:
    """Three panels: time per op, utilisation per unit, traffic per roofline level."""
    ops = list(dict.fromkeys(op for c in chips for op in time_by_op(c.result)))
    units = list(dict.fromkeys(u for c in chips for u in c.overview.utilization))
    levels = list(dict.fromkeys(lv for c in chips for lv in c.level_bytes))
    with style():
        fig, (a, b, t) = new_figure(11.0, 3.6, 1, 3, width_ratios=(max(len(ops), 2),
                                                                    max(len(units), 2),
                                                                    max(len(levels), 2)))
        _grouped(a, ops, chips, {c.result.hw: [1e3 * sum(time_by_op(c.result).get(op, (0, 0)))
                                               for op in ops] for c in chips})
        a.set_ylabel("time (ms, launch included)")
        a.set_title("time per op")
        a.legend()
        _grouped(b, units, chips, {c.result.hw: [100 * c.overview.utilization.get(u, 0.0)
                                                 for u in units] for c in chips})
        b.set_ylabel("busy % of the run")
        b.set_title("utilisation per unit")
        _grouped(t, levels, chips, {c.result.hw: [c.level_bytes.get(lv, 0) / 1e6
                                                  for lv in levels] for c in chips})
        t.set_ylabel("MB over the run")
        t.set_title("traffic per level")
        fig.suptitle(title)
    return fig


def headline(chips: Sequence[Compared]) -> list[str]:
    """One sentence per chip after the first: its time relative to the first chip's, and the
    biggest difference in where the time goes (launch overhead or work on the chip)."""
    if not chips:
        return []
    base = chips[0].overview
    lines = []
    for c in chips[1:]:
        o = c.overview
        if not o.seconds or not base.seconds:
            continue
        ratio = base.seconds / o.seconds
        faster = f"{ratio:.2f}x faster than" if ratio >= 1 else f"{1 / ratio:.2f}x slower than"
        lines.append(
            f"{o.hw} is {faster} {base.hw} ({o.seconds * 1e3:.3f} ms vs "
            f"{base.seconds * 1e3:.3f} ms): {o.kernels} kernels vs {base.kernels}, launch "
            f"overhead {o.launch_seconds * 1e3:.3f} ms vs {base.launch_seconds * 1e3:.3f} ms, "
            f"work on the chip {(o.seconds - o.launch_seconds) * 1e3:.3f} ms vs "
            f"{(base.seconds - base.launch_seconds) * 1e3:.3f} ms; peak "
            f"{o.peak_flops / base.peak_flops:.2f}x.")
    return lines


def layer_times(chips: Sequence[Compared]) -> list[tuple[str, str, list[float | None]]]:
    """(layer, op, seconds on each chip or None) in the first chip's order, then any others."""
    per_chip = [{r["name"]: r for r in c.result.layers()} for c in chips]
    names = list(dict.fromkeys(n for rows in per_chip for n in rows))
    out = []
    for name in names:
        op = next(rows[name]["op"] for rows in per_chip if name in rows)
        out.append((name, op, [rows[name]["seconds"] if name in rows else None
                               for rows in per_chip]))
    return out


def render_comparison(runs: Sequence[tuple[RunResult, Ceilings]],
                      skipped: Mapping[str, str] | None = None) -> str:
    """The comparison page; ``skipped`` maps chips that could not run the model to why."""
    chips = compared(runs)
    model = chips[0].result.model if chips else "model"
    names = " vs ".join(c.result.hw for c in chips)
    series = [RooflineSeries(c.result.hw, c.ceilings,
                             tuple(p for p in roofline_points(c.result, c.ceilings)
                                   if c.ceilings.memory and p.level == c.ceilings.memory[0].name),
                             colour=c.colour,
                             levels=(c.ceilings.memory[0].name,) if c.ceilings.memory else ())
              for c in chips]
    plots = {}
    if chips:
        plots = {
            "roofline": data_uri(roofline_figure(
                series, f"{model}: {names} (off-chip level, one point per kernel)")),
            "bars": data_uri(comparison_figure(chips, f"{model}: {names}")),
        }
    return environment().get_template("compare.html.j2").render(
        version=archsim_version(), model=model, chips=chips, plots=plots,
        skipped=dict(skipped or {}), layers=layer_times(chips), headline=headline(chips),
        units=list(dict.fromkeys(u for c in chips for u in c.overview.utilization)),
        levels=list(dict.fromkeys(lv for c in chips for lv in c.level_bytes)))


def write_comparison(runs: Sequence[tuple[RunResult, Ceilings]], out_dir: str | Path,
                     skipped: Mapping[str, str] | None = None) -> Path:
    """Write ``compare.html`` and each run's ``result-<hw>.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for result, ceilings in runs:
        save_result(out / f"result-{Path(result.hw).stem}.json", result, ceilings)
    path = out / "compare.html"
    path.write_text(render_comparison(runs, skipped))
    return path
