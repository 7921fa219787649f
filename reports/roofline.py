"""The hierarchical roofline (Williams et al. 2009; hierarchical form after Yang et al., "An
Empirical Roofline Methodology for Quantitatively Assessing Performance Portability", 2018).

Each kernel is one point per memory level at the same height, its achieved FLOP/s, and at its
arithmetic intensity against that level's bytes. Achieved FLOP/s is the kernel's analytic
FLOPs over its execution time with the launch overhead excluded (the launch is a fixed host
cost the kernel cannot overlap; it appears in the summary and the tables). The roof of a level
is ``min(peak, intensity x bandwidth)``; since the engine enforces every roof drawn
(`reports.ceilings`), no point lies above its roof.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hw.results import KernelRecord, RunResult
from reports.ceilings import Ceilings
from reports.plots import colours, new_figure, si, style

_MARKERS = ("o", "s", "^", "D", "v", "P")
_ROOF_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (1, 1)))


@dataclass(frozen=True)
class RooflinePoint:
    """One kernel against one memory level."""

    kernel: str
    layer: str
    op: str
    level: str
    intensity: float  # FLOPs per byte moved through this level
    flops_per_s: float  # achieved: FLOPs / execution seconds (launch excluded)
    roof_flops_per_s: float  # min(peak, intensity x level bandwidth)
    seconds: float  # execution seconds (launch excluded)


def execution_seconds(kernel: KernelRecord) -> float:
    """The kernel's time on the chip, launch overhead excluded."""
    return kernel.run.cycles / kernel.run.freq_hz


def roofline_points(result: RunResult, ceilings: Ceilings) -> list[RooflinePoint]:
    """A point per kernel with FLOPs and time, per level it moved bytes through."""
    points = []
    peak = ceilings.peak_flops
    for k in result.kernels:
        seconds = execution_seconds(k)
        if k.flops <= 0 or seconds <= 0:
            continue
        for roof in ceilings.memory:
            nbytes = roof.bytes_of(k.run)
            if nbytes <= 0:
                continue
            intensity = k.flops / nbytes
            points.append(RooflinePoint(
                k.name, k.layer, k.op, roof.name, intensity, k.flops / seconds,
                min(peak, intensity * roof.bytes_per_s), seconds))
    return points


@dataclass(frozen=True)
class RooflineSeries:
    """What one roofline figure draws for one chip: its roofs and its points. ``colour`` of
    None colours points by op; a colour string draws the chip's roofs and points in it."""

    label: str
    ceilings: Ceilings
    points: tuple[RooflinePoint, ...]
    colour: str | None = None
    levels: tuple[str, ...] | None = None  # memory roofs to draw (None: all)


def _x_range(series: Sequence[RooflineSeries]) -> tuple[float, float]:
    xs = [p.intensity for s in series for p in s.points]
    for s in series:
        xs += [s.ceilings.peak_flops / m.bytes_per_s for m in s.ceilings.memory]
    lo, hi = (min(xs), max(xs)) if xs else (0.1, 100.0)
    return 10 ** np.floor(np.log10(lo / 2)), 10 ** np.ceil(np.log10(hi * 2))


def roofline_figure(series: Sequence[RooflineSeries], title: str,
                    size: Callable[[RooflinePoint], float] | None = None) -> Figure:
    """A log-log roofline: each series' compute and memory roofs, and its points (marker by
    level, area by execution time, colour by op or by series)."""
    with style():
        fig, ax = new_figure(10.0, 5.4)
        x_lo, x_hi = _x_range(series)
        xs = np.geomspace(x_lo, x_hi, 256)
        ops = colours(p.op for s in series for p in s.points)
        longest = max((p.seconds for s in series for p in s.points), default=1.0)
        area = size or (lambda p: 12.0 + 260.0 * p.seconds / longest)
        handles: list[Line2D] = []
        for s in series:
            roof_colour = s.colour or "#444444"
            levels = [m for m in s.ceilings.memory if s.levels is None or m.name in s.levels]
            for i, m in enumerate(levels):
                ys = np.minimum(s.ceilings.peak_flops, xs * m.bytes_per_s)
                prefix = f"{s.label} " if len(series) > 1 else ""
                line, = ax.plot(xs, ys, color=roof_colour, lw=1.4,
                                ls=_ROOF_STYLES[i % len(_ROOF_STYLES)],
                                label=f"{prefix}{m.name} {si(m.bytes_per_s, 'B/s')}")
                handles.append(line)
            for c in s.ceilings.compute[1:]:
                ax.axhline(c.flops_per_s, color=roof_colour, lw=0.8, ls=":")
                ax.annotate(f"{c.name} {si(c.flops_per_s, 'FLOP/s')}", (x_lo, c.flops_per_s),
                            fontsize=7, va="bottom", color=roof_colour)
            top = s.ceilings.compute[0]
            ax.annotate(f"{s.label}: {top.name} {si(top.flops_per_s, 'FLOP/s')}",
                        (x_hi, top.flops_per_s), ha="right", va="bottom", fontsize=8,
                        color=roof_colour)
            for i, m in enumerate(levels):
                pts = [p for p in s.points if p.level == m.name]
                if not pts:
                    continue
                # the off-chip level's points are solid, the inner levels' lighter
                ax.scatter([p.intensity for p in pts], [p.flops_per_s for p in pts],
                           s=[area(p) for p in pts], marker=_MARKERS[i % len(_MARKERS)],
                           c=[s.colour or ops[p.op] for p in pts], alpha=0.8 if i == 0 else 0.35,
                           edgecolors="white", linewidths=0.5, zorder=4 if i == 0 else 3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ys_all = [p.flops_per_s for s in series for p in s.points]
        peak = max(s.ceilings.peak_flops for s in series)
        ax.set_ylim(min([peak / 1e4, *ys_all]) / 2, peak * 2.5)
        ax.set_xlabel("arithmetic intensity (FLOP per byte moved through the level)")
        ax.set_ylabel("achieved FLOP/s (launch excluded)")
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        level_names = list(dict.fromkeys(m.name for s in series for m in s.ceilings.memory
                                         if s.levels is None or m.name in s.levels))
        markers = [Line2D([], [], ls="", marker=_MARKERS[i % len(_MARKERS)], color="#777777",
                          label=f"point vs {name}") for i, name in enumerate(level_names)]
        if any(s.colour is None for s in series):
            markers += [Line2D([], [], ls="", marker="o", color=col, label=op)
                        for op, col in ops.items()]
        fig.legend(handles=handles + markers, loc="outside right upper", framealpha=0.85)
    return fig
