"""The self-contained HTML report: jinja2 templates (``reports/templates``) with the plots as
embedded SVG data URIs, so the file opens anywhere with no network."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from hw.results import RunResult
from reports.ceilings import Ceilings
from reports.overview import Overview, overview, time_figure
from reports.plots import data_uri, si
from reports.roofline import RooflineSeries, roofline_figure, roofline_points
from reports.tables import LATENCY_FRACTION, LayerRow, kernel_rows, layer_rows, top
from reports.traffic import (
    LEVEL_NOTES,
    LevelTraffic,
    level_traffic,
    path_traffic,
    traffic_figure,
)
from reports.utilization import layer_breakdowns, utilization_figure

TOP_KERNELS = 10


@cache
def environment() -> Environment:
    """The template environment (autoescaped, strict about undefined names)."""
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["si"] = si
    return env


def archsim_version() -> str:
    """The installed archsim version (or "dev" when running from a bare checkout)."""
    try:
        return version("archsim")
    except PackageNotFoundError:
        return "dev"


@dataclass(frozen=True)
class ReportModel:
    """Everything one report shows, computed once from the RunResult and its roofs."""

    result: RunResult
    ceilings: Ceilings
    overview: Overview
    rows: list[LayerRow]
    kernels: list[LayerRow]
    levels: list[LevelTraffic]
    paths: dict[str, int]

    @property
    def units(self) -> list[str]:
        return list(self.overview.utilization)

    @property
    def execution_seconds(self) -> float:
        return sum(r.execution_seconds for r in self.rows)


def report_model(result: RunResult, ceilings: Ceilings) -> ReportModel:
    """The tables and totals of a report."""
    rows = layer_rows(result, ceilings)
    return ReportModel(result, ceilings, overview(result, ceilings, rows), rows,
                       kernel_rows(result, ceilings), level_traffic(result),
                       path_traffic(result))


def report_plots(model: ReportModel) -> dict[str, str]:
    """Plot name -> SVG data URI."""
    r, c = model.result, model.ceilings
    name = f"{r.model} on {r.hw}"
    series = RooflineSeries(r.hw, c, tuple(roofline_points(r, c)))
    return {
        "time": data_uri(time_figure(r, model.rows, f"{name}: where the time goes")),
        "roofline": data_uri(roofline_figure([series], f"{name}: hierarchical roofline")),
        "utilisation": data_uri(utilization_figure(layer_breakdowns(r),
                                                   f"{name}: unit utilisation per layer")),
        "traffic": data_uri(traffic_figure(model.levels, model.rows, c,
                                           f"{name}: memory traffic")),
    }


def render_report(result: RunResult, ceilings: Ceilings) -> str:
    """The HTML report of one run."""
    model = report_model(result, ceilings)
    context: dict[str, Any] = {
        "version": archsim_version(), "o": model.overview, "ceilings": ceilings,
        "plots": report_plots(model), "rows": model.rows,
        "top_kernels": top(model.kernels, TOP_KERNELS), "levels": model.levels,
        "paths": model.paths, "exec_seconds": model.execution_seconds or 1.0,
        "level_names": [m.name for m in ceilings.memory], "units": model.units,
        "latency_fraction": LATENCY_FRACTION, "level_notes": LEVEL_NOTES,
    }
    return environment().get_template("report.html.j2").render(context)
