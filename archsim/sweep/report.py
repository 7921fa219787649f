"""The HTML sweep report: one self-contained file (figures inlined as PNG data URIs).

Sections: the sweep (spec, base, counts, compilations), the best points per workload, the
Pareto front of time against total on-chip SRAM with its table, the sensitivity of time to each
parameter, heatmaps for 2-D parameter grids, failed points with their errors, and the full
results table. Rendering reads only the result database.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from archsim.sweep import plots
from archsim.sweep.results import PARAM_PREFIX, param_columns, results_frame
from archsim.sweep.store import SweepStore

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MAX_ROWS = 500
"""Rows of the full results table in the report (the CSV export has every row)."""
MAX_HEATMAPS = 6

_TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>archsim sweep: {{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.num { font-variant-numeric: tabular-nums; } img { max-width: 100%; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.note { color: #666; font-size: 0.85em; }
</style></head><body>
<h1>archsim sweep: {{ title }}</h1>
<p>{{ counts }}</p>
{% for s in sweeps %}<details><summary>spec of <b>{{ s.name }}</b> ({{ s.source }},
base {{ s.base }})</summary><pre>{{ s.spec }}</pre></details>{% endfor %}
{% if reuse_note %}<p class="note">{{ reuse_note }}</p>{% endif %}
<h2>Best points</h2>{{ best }}
<h2>Pareto front: {{ pareto_y }} vs {{ pareto_x }}</h2>
<p class="note">Points no other point beats in both time and total on-chip SRAM bytes
(per-core buffers x cores + L2), per workload.</p>
{% if pareto_png %}<img src="{{ pareto_png }}" alt="Pareto front">{% endif %}{{ pareto }}
<h2>Sensitivity of {{ metric }} to each parameter</h2>
<p class="note">relative_spread = (max - min) / min of the mean {{ metric }} over the
parameter's values, other parameters averaged out.</p>
{{ sensitivity }}{% if sensitivity_png %}<img src="{{ sensitivity_png }}" alt="sensitivity">
{% endif %}
{% if heatmaps %}<h2>Heatmaps</h2>{% for h in heatmaps %}<img src="{{ h }}" alt="heatmap">
{% endfor %}{% endif %}
{% if failures %}<h2>Failed points</h2>{{ failures }}{% endif %}
<h2>All points</h2>{{ table }}
</body></html>
""", autoescape=False)


def write_report(db: str | Path, out_dir: str | Path, sweep: str | None = None,
                 metric: str = "seconds") -> Path:
    """Render the report of ``db`` (only ``sweep`` if given) to ``out_dir/index.html``."""
    frame = results_frame(db, sweep)
    with SweepStore(db) as store:
        sweeps = [s for s in store.sweeps() if sweep is None or s["name"] == sweep]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_report(frame, sweeps, metric), encoding="utf-8")
    return path


def render_report(frame: pd.DataFrame, sweeps: list[dict[str, Any]],
                  metric: str = "seconds") -> str:
    """The report's HTML for a results frame and the sweeps' stored specs."""
    ok = frame[frame["status"] == "ok"]
    has_metric = metric in frame.columns and not ok.empty
    params = param_columns(frame)
    shown = ["workload", "batch", "train", *params, *([metric] if has_metric else []),
             *(["sram_bytes"] if "sram_bytes" in frame.columns else [])]
    best = (ok.sort_values(metric).groupby("workload", sort=False).head(5)[shown]
            if has_metric else ok.iloc[0:0][shown])
    compilations = frame["compile_id"].replace("", None).nunique()
    counts = (f"{len(frame)} points recorded: {len(ok)} ok, {len(frame) - len(ok)} failed; "
              f"{compilations} compiled programs; "
              f"{frame['workload'].nunique()} workloads, {len(params)} parameters.")
    reuse_note = ""
    if frame["notes"].fillna("").str.contains("reused").any():
        reuse_note = ("Some points reused a program compiled with the base config's timing "
                      "figures (their tiling was chosen for those); see each point's notes and "
                      "archsim/sweep/reuse.py.")
    pareto_x = "sram_bytes"
    heatmaps: list[str] = []
    if has_metric:
        for workload in list(dict.fromkeys(ok["workload"])):
            for x, y in plots.grid_pairs(ok[ok["workload"] == workload]):
                if len(heatmaps) < MAX_HEATMAPS:
                    heatmaps.append(_png(plots.heatmap_figure(ok, workload, x, y, metric)))
    failures = frame[frame["status"] != "ok"][["workload", "batch", *params, "error"]]
    return _TEMPLATE.render(
        title=html.escape(", ".join(s["name"] for s in sweeps) or "results"),
        counts=html.escape(counts), sweeps=[{k: html.escape(str(v)) for k, v in s.items()}
                                            for s in sweeps],
        reuse_note=reuse_note, best=_table(best), metric=metric, pareto_x=pareto_x,
        pareto_y=metric,
        pareto_png=_png(plots.pareto_figure(frame, pareto_x, metric)) if has_metric else "",
        pareto=_table(plots.pareto_points(frame, pareto_x, metric)[shown]) if has_metric
        else "",
        sensitivity=_table(plots.sensitivity(frame, metric)) if has_metric else "",
        sensitivity_png=_png(plots.sensitivity_figure(frame, metric))
        if has_metric and params else "",
        heatmaps=heatmaps, failures=_table(failures) if len(failures) else "",
        table=_table(frame.drop(columns=["key", "compile_id", "sweep"]).head(MAX_ROWS)))


def _table(frame: pd.DataFrame) -> str:
    renamed = frame.rename(columns=lambda c: c[len(PARAM_PREFIX):]
                           if str(c).startswith(PARAM_PREFIX) else c)
    return str(renamed.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="",
                               classes="num", border=0, escape=True))


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
