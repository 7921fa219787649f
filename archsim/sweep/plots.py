"""Sweep analyses and their figures: Pareto fronts, per-parameter sensitivity, 2-D heatmaps.

The analyses are plain DataFrame functions (testable without drawing); the figure functions
draw them with matplotlib's Agg backend (no display needed) and return the Figure. Every
analysis uses successful points only and treats each workload separately, since different
networks' times are not comparable.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from archsim.sweep.results import PARAM_PREFIX, param_columns

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MAX_PANELS = 6
"""At most this many workloads or parameter pairs are drawn per figure (tables list all)."""


def pareto_mask(frame: pd.DataFrame, x: str, y: str) -> pd.Series:
    """True for rows no other row beats in both ``x`` and ``y`` (both minimised)."""
    order = frame.sort_values([x, y]).index
    best = float("inf")
    keep = set()
    for idx in order:
        value = frame.at[idx, y]
        if value < best:
            keep.add(idx)
            best = value
    return frame.index.to_series().isin(keep)


def pareto_points(frame: pd.DataFrame, x: str = "sram_bytes", y: str = "seconds"
                  ) -> pd.DataFrame:
    """The Pareto-optimal successful points of each workload, sorted by ``x``."""
    import pandas as pd

    ok = _ok(frame, x, y)
    parts = [group[pareto_mask(group, x, y)].sort_values(x) for _, group in
             ok.groupby("workload", sort=False)]
    return pd.concat(parts) if parts else ok


def sensitivity(frame: pd.DataFrame, metric: str = "seconds") -> pd.DataFrame:
    """Per workload and parameter: the spread of the mean ``metric`` across the parameter's
    values (other parameters averaged out), ``(max - min) / min``, with the values giving the
    best and worst mean. Sorted most sensitive first within each workload."""
    import pandas as pd

    rows = []
    ok = _ok(frame, metric)
    for workload, group in ok.groupby("workload", sort=False):
        for column in param_columns(group):
            means = group.groupby(column)[metric].mean()
            if len(means) < 2:
                continue
            low, high = float(means.min()), float(means.max())
            rows.append({"workload": workload, "parameter": column[len(PARAM_PREFIX):],
                         "relative_spread": (high - low) / low if low else float("nan"),
                         "best_value": means.idxmin(), "worst_value": means.idxmax(),
                         "values": len(means)})
    table = pd.DataFrame(rows, columns=["workload", "parameter", "relative_spread",
                                        "best_value", "worst_value", "values"])
    return table.sort_values(["workload", "relative_spread"], ascending=[True, False],
                             kind="stable")


MAX_GRID_VALUES = 12
"""A heatmap axis holds at most this many values (random/LHS samples are not grids)."""


def grid_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Parameter column pairs whose successful points cover a complete 2-D grid of 2 to
    `MAX_GRID_VALUES` values per axis (so random and LHS samples give no heatmaps)."""
    ok = _ok(frame)
    columns = [c for c in param_columns(ok) if 2 <= ok[c].nunique() <= MAX_GRID_VALUES]
    return [(x, y) for x, y in itertools.combinations(columns, 2)
            if len(ok[[x, y]].drop_duplicates()) == ok[x].nunique() * ok[y].nunique()]


def pareto_figure(frame: pd.DataFrame, x: str = "sram_bytes", y: str = "seconds") -> Figure:
    """Scatter of every successful point per workload with its Pareto front as a step line."""
    ok = _ok(frame, x, y)
    workloads = list(dict.fromkeys(ok["workload"]))[:MAX_PANELS]
    fig, axes = _panels(len(workloads))
    for ax, workload in zip(axes, workloads, strict=False):
        group = ok[ok["workload"] == workload]
        front = group[pareto_mask(group, x, y)].sort_values(x)
        ax.scatter(group[x], group[y], s=14, alpha=0.5, color="#888", label="design points")
        ax.step(front[x], front[y], where="post", color="#c0392b", lw=1.5)
        ax.scatter(front[x], front[y], s=22, color="#c0392b", label="Pareto front")
        ax.set_title(workload, fontsize=9)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.legend(fontsize=7)
    return fig


def sensitivity_figure(frame: pd.DataFrame, metric: str = "seconds") -> Figure:
    """One panel per parameter: mean ``metric`` as a percentage change from the workload's
    mean, against the parameter's value, one line per workload."""
    ok = _ok(frame, metric)
    columns = [c for c in param_columns(ok) if ok[c].nunique() >= 2][:MAX_PANELS]
    fig, axes = _panels(len(columns))
    for ax, column in zip(axes, columns, strict=False):
        for workload, group in ok.groupby("workload", sort=False):
            means = group.groupby(column)[metric].mean()
            change = (means / group[metric].mean() - 1.0) * 100.0
            xs = means.index if _numeric(means.index) else [str(v) for v in means.index]
            ax.plot(xs, change, marker="o", label=workload)
        if _numeric(ok[column]) and ok[column].min() > 0 and ok[column].max() > 8 * ok[
                column].min():
            ax.set_xscale("log", base=2)
        ax.axhline(0.0, color="#bbb", lw=0.8)
        ax.set_xlabel(column[len(PARAM_PREFIX):])
        ax.set_ylabel(f"{metric} vs workload mean (%)")
        ax.legend(fontsize=6)
    return fig


def heatmap_figure(frame: pd.DataFrame, workload: str, x: str, y: str,
                   metric: str = "seconds") -> Figure:
    """Mean ``metric`` of ``workload`` over the grid of parameter columns ``x`` and ``y``."""
    import numpy as np

    ok = _ok(frame, metric)
    table = ok[ok["workload"] == workload].pivot_table(index=y, columns=x, values=metric,
                                                       aggfunc="mean")
    fig, axes = _panels(1)
    ax = axes[0]
    image = ax.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap="viridis_r")
    ax.set_xticks(range(len(table.columns)), [_label(v, x) for v in table.columns], fontsize=7,
                  rotation=30)
    ax.set_yticks(range(len(table.index)), [_label(v, y) for v in table.index], fontsize=7)
    ax.set_xlabel(x[len(PARAM_PREFIX):])
    ax.set_ylabel(y[len(PARAM_PREFIX):])
    ax.set_title(f"{workload}: mean {metric}", fontsize=9)
    values = table.to_numpy()
    low, high = np.nanmin(values), np.nanmax(values)
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            # viridis_r is light at the low end: dark text there, light text on dark cells
            dark_cell = high > low and (value - low) / (high - low) > 0.5
            ax.text(j, i, f"{value:.4g}", ha="center", va="center", fontsize=6,
                    color="w" if dark_cell else "k")
    fig.colorbar(image, ax=ax)
    return fig


def _ok(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Successful rows with every one of ``columns`` present (none if a column is absent)."""
    ok = frame[frame["status"] == "ok"]
    if any(c not in frame.columns for c in columns):
        return ok.iloc[0:0]
    return ok.dropna(subset=list(columns))


def _panels(count: int) -> tuple[Figure, list]:
    from matplotlib.figure import Figure

    count = max(count, 1)
    cols = min(count, 3)
    rows = -(-count // cols)
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(count)]
    return fig, axes


def _numeric(values: object) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(pd.Series(list(values))))  # type: ignore[call-overload]


def _label(value: object, column: str) -> str:
    """A tick label: byte sizes in KiB, large numbers in engineering form."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1 << 53:
        value = int(value)
    if column.endswith("_bytes") and isinstance(value, int) and value % 1024 == 0 and value:
        return f"{value >> 10} KiB"
    if isinstance(value, int | float) and abs(value) >= 1e5:
        return f"{value:.3g}"
    return str(value)
