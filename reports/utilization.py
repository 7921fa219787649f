"""Per-unit utilisation and stall breakdown per layer.

For every unit the result reports (``KernelRecord.utilization()``: cube, vector, mte2, ... on
DaVinci) a layer's cycles split into busy, blocked on a flag, and the rest; all shares are of
the layer's cycles including the launch overhead, the same denominator as
``RunResult.layers()``, so "busy" equals its utilisation. A separate "issue" row shows why the
instruction issue stalled: on DaVinci, the scalar unit blocked by a full pipe queue (per pipe);
on a GPU (`GpuKernelRun.stall_cycles`), the warp schedulers' stall reasons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hw.results import DAVINCI_UNITS, KernelRecord, RunResult
from reports.plots import new_figure, style

_NEVER_BUSY = 0.01  # share of a layer's cycles a plotted unit exceeds somewhere (`plotted_units`)

ISSUE = "issue"
"""The row of issue stalls (not a unit of its own)."""

_PART_COLOURS = {"busy": "#0072B2", "flag wait": "#E69F00", "launch": "#DDDDDD"}
_STALL_PALETTE = ("#CC79A7", "#D55E00", "#009E73", "#56B4E9", "#8c564b", "#7f7f7f", "#bcbd22",
                  "#17becf", "#9467bd", "#e377c2")


@dataclass(frozen=True)
class LayerBreakdown:
    """One layer: for each unit, the shares of its cycles by state (busy, flag wait, and the
    kernel launch overhead, when no unit works), and the issue stalls by reason, all in
    [0, 1]."""

    layer: str
    op: str
    start_seconds: float  # where the layer starts in the run
    seconds: float
    units: dict[str, dict[str, float]]
    issue: dict[str, float]


def _pipe(unit: str) -> str:
    return DAVINCI_UNITS.get(unit, unit)


def _breakdown(layer: str, kernels: Sequence[KernelRecord], start: float,
               units: Sequence[str]) -> LayerBreakdown:
    total = sum(k.cycles for k in kernels) or 1
    busy: dict[str, float] = defaultdict(float)
    wait: dict[str, float] = defaultdict(float)
    issue: dict[str, float] = defaultdict(float)
    issue_slots = 0
    for k in kernels:
        run = k.run
        # shares of the chip's units (RunResult.utilization), the idle cores of a kernel on
        # fewer cores included
        unit_counts = run.chip_units_per_pipe or run.units_per_pipe
        for unit, fraction in k.chip_utilization().items():
            busy[unit] += fraction * run.cycles
            pipe = _pipe(unit)
            if pipe in run.pipes and unit_counts.get(pipe):
                wait[unit] += run.pipes[pipe].flag_wait_cycles / unit_counts[pipe]
        stalls = getattr(run, "stall_cycles", None)
        if stalls:  # GPU: warp-scheduler cycles by stall reason
            for reason, n in stalls.items():
                if reason != "idle":
                    issue[reason] += n
            issue_slots += getattr(run, "subcore_cycles", 0)
        else:  # DaVinci: the scalar issue unit blocked by a pipe's full queue
            lanes = run.units_per_pipe.get("S", run.cores) or 1
            for pipe, stats in run.pipes.items():
                if stats.queue_full_cycles:
                    issue[f"queue full: {pipe}"] += stats.queue_full_cycles / lanes
            issue_slots += run.cycles + run.launch_cycles
    launch = sum(k.run.launch_cycles for k in kernels) / total
    per_unit = {}
    for u in units:
        b = min(1.0, busy[u] / total)
        per_unit[u] = {"busy": b, "flag wait": min(1.0 - b, wait[u] / total),
                       "launch": min(1.0 - b, launch)}
    slots = issue_slots or 1
    return LayerBreakdown(layer, kernels[0].op, start, sum(k.seconds for k in kernels),
                          per_unit, {r: min(1.0, n / slots) for r, n in issue.items()})


def layer_breakdowns(result: RunResult) -> list[LayerBreakdown]:
    """One breakdown per layer in run order."""
    units = list(dict.fromkeys(u for k in result.kernels for u in k.utilization()))
    groups: dict[str, list[KernelRecord]] = {}
    for k in result.kernels:
        groups.setdefault(k.layer, []).append(k)
    out, start = [], 0.0
    for layer, kernels in groups.items():
        out.append(_breakdown(layer, kernels, start, units))
        start += out[-1].seconds
    return out


def plotted_units(rows: Sequence[LayerBreakdown]) -> list[str]:
    """The units `utilization_figure` draws: those busy more than ``_NEVER_BUSY`` of some
    layer's cycles (scalar work the compiler folded away is left out), the threshold scaled
    down for a run whose busiest unit stays under a tenth of it (a tiny model on a big chip,
    where launches dominate), so that it still shows what its units did."""
    peak = max((r.units[u]["busy"] for r in rows for u in r.units), default=0.0)
    floor = min(_NEVER_BUSY, peak / 10)
    return [u for u in (rows[0].units if rows else {})
            if any(r.units[u]["busy"] > floor for r in rows)]


def utilization_figure(rows: Sequence[LayerBreakdown], title: str) -> Figure:
    """Small multiples, one row per unit plus the issue row: for every layer a bar as wide as
    the layer's time, stacked busy, flag-wait and launch shares in % of the layer's cycles
    (issue: stall reasons). Units never busy in the run are left out."""
    units = plotted_units(rows)
    reasons = list(dict.fromkeys(r for row in rows for r in row.issue))
    reason_colours = {r: _STALL_PALETTE[i % len(_STALL_PALETTE)]
                      for i, r in enumerate(sorted(reasons))}
    nrows = len(units) + (1 if reasons else 0)
    with style():
        fig, axes = new_figure(9.0, 0.95 * max(nrows, 1) + 0.9, max(nrows, 1), 1,
                               sharex=True, squeeze=False)
        axes = axes[:, 0]
        lefts = [1e3 * r.start_seconds for r in rows]
        widths = [1e3 * r.seconds for r in rows]
        for ax, unit in zip(axes, units, strict=False):
            bottom = [0.0] * len(rows)
            for part, colour in _PART_COLOURS.items():
                heights = [100 * r.units[unit][part] for r in rows]
                ax.bar(lefts, heights, widths, bottom=bottom, align="edge", color=colour,
                       edgecolor="white", linewidth=0.3)
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            ax.set_ylim(0, 100)
            ax.set_ylabel(unit, rotation=0, ha="right", va="center")
            ax.set_yticks([0, 50, 100])
            ax.grid(True, axis="y", alpha=0.3)
        if reasons:
            ax = axes[len(units)]
            bottom = [0.0] * len(rows)
            for reason in reasons:
                heights = [100 * r.issue.get(reason, 0.0) for r in rows]
                ax.bar(lefts, heights, widths, bottom=bottom, align="edge",
                       color=reason_colours[reason], edgecolor="white", linewidth=0.3)
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            ax.set_ylabel(f"{ISSUE}\nstalls", rotation=0, ha="right", va="center")
            ax.set_ylim(0, max(max(bottom, default=0.0) * 1.15, 1.0))
            ax.grid(True, axis="y", alpha=0.3)
        axes[-1].set_xlabel("time through the run (ms); each bar is one layer, as wide as "
                            "its time")
        if rows:
            axes[-1].set_xlim(0, lefts[-1] + widths[-1])
        legend = [Patch(color=c, label=p) for p, c in _PART_COLOURS.items()]
        legend += [Patch(color=reason_colours[r], label=f"issue: {r}") for r in reasons]
        fig.legend(handles=legend, loc="outside lower center", ncols=min(len(legend), 6))
        fig.suptitle(title)
    return fig
