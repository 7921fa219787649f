"""Pareto front, sensitivity, heatmaps and the HTML report, on a synthetic results frame."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from archsim.sweep import plots
from archsim.sweep.report import render_report


@pytest.fixture
def frame() -> pd.DataFrame:
    rows = []
    for i, (l1, bw) in enumerate(itertools.product([1, 2, 4], [1.0, 2.0])):
        # time falls with both, ten times more with bandwidth; more L1 costs SRAM
        rows.append({"sweep": "s", "index": i, "workload": "net", "batch": 1, "train": False,
                     "mode": "timing", "hw": "chip", "status": "ok", "param.l1": l1,
                     "param.bw": bw, "seconds": 10.0 / bw + 1.0 / l1, "sram_bytes": 100 * l1,
                     "error": "", "notes": "", "compile_id": f"c{l1}", "compile_s": 0.1,
                     "run_s": 0.2, "cpu_s": 0.3, "worker": "w", "key": f"k{i}"})
    rows.append({**rows[0], "index": 6, "status": "error", "seconds": None,
                 "error": "CompileError: <does not fit>", "key": "k6", "param.l1": 8})
    return pd.DataFrame(rows)


def test_pareto_mask_keeps_only_undominated_points():
    data = pd.DataFrame({"x": [1, 2, 2, 3, 4], "y": [5, 4, 6, 4, 1]})
    assert list(plots.pareto_mask(data, "x", "y")) == [True, True, False, False, True]


def test_pareto_points_per_workload_skip_failures(frame):
    front = plots.pareto_points(frame)
    assert (front["status"] == "ok").all()
    # bw=2 is free in SRAM terms, so the front is the bw=2 points, every l1 trading time/SRAM
    assert list(front["param.bw"]) == [2.0, 2.0, 2.0]
    assert list(front["param.l1"]) == [1, 2, 4]


def test_sensitivity_ranks_parameters(frame):
    table = plots.sensitivity(frame)
    assert list(table["parameter"]) == ["bw", "l1"]
    bw = table.iloc[0]
    assert bw["best_value"] == 2.0 and bw["worst_value"] == 1.0
    assert bw["relative_spread"] == pytest.approx((10 + 7 / 12 - 5 - 7 / 12) / (5 + 7 / 12))


def test_grid_pairs_and_figures(frame):
    assert plots.grid_pairs(frame) == [("param.l1", "param.bw")]
    for fig in (plots.pareto_figure(frame), plots.sensitivity_figure(frame),
                plots.heatmap_figure(frame, "net", "param.l1", "param.bw")):
        assert fig.axes


def test_report_is_self_contained_and_escapes(frame):
    sweeps = [{"name": "s", "source": "s.toml", "spec": "name = '<s>'", "base": "chip",
               "updated_at": 0.0}]
    html = render_report(frame, sweeps)
    assert html.startswith("<!doctype html>") and "</html>" in html
    assert html.count("data:image/png;base64,") == 3  # pareto, sensitivity, one heatmap
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert "&lt;does not fit&gt;" in html and "&lt;s&gt;" in html
    assert "7 points recorded: 6 ok, 1 failed; 3 compiled programs" in html


def test_report_of_only_failures_still_renders(frame):
    html = render_report(frame[frame["status"] != "ok"], [])
    assert "Failed points" in html and "data:image/png" not in html


def test_scattered_samples_are_not_heatmap_grids(frame):
    ok = frame[frame["status"] == "ok"]
    assert plots.grid_pairs(ok.iloc[:-1]) == []  # one corner missing: not a complete grid
    scattered = ok.assign(**{"param.bw": range(len(ok))})
    assert plots.grid_pairs(scattered) == []
