"""A report directory: ``report.html``, ``summary.md``, ``layers.csv`` and ``result.json``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hw.results import RunResult
from reports.ceilings import Ceilings
from reports.html import TOP_KERNELS, render_report, report_model
from reports.plots import si
from reports.serialize import default_ceilings, save_result
from reports.tables import LayerRow, csv_rows, top


@dataclass(frozen=True)
class ReportFiles:
    """The files `write_report` wrote."""

    html: Path
    summary: Path
    layers_csv: Path
    result_json: Path


def _md_table(rows: list[LayerRow], levels: list[str]) -> list[str]:
    head = ["name", "op", "time (us)", "share", "GFLOP", f"{levels[0]} bytes", "bound"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(f"| {r.name} | {r.op} | {r.seconds * 1e6:.1f} | {r.share:.1%} | "
                     f"{r.flops / 1e9:.3f} | {si(r.level_bytes[levels[0]], 'B')} | {r.bound} |")
    return lines


def summary_markdown(result: RunResult, ceilings: Ceilings) -> str:
    """A short Markdown summary: totals, utilisation, bounds and the top layers and kernels."""
    model = report_model(result, ceilings)
    o = model.overview
    levels = [m.name for m in ceilings.memory]
    lines = [
        f"# {o.model} on {o.hw}", "",
        f"batch {o.batch}, {o.mode} mode, {o.kernels} kernels", "",
        f"- time: {o.seconds * 1e3:.3f} ms ({o.cycles:,} cycles), "
        f"{o.throughput_per_s:.1f} samples/s",
        f"- work: {o.flops / 1e9:.3f} GFLOP, achieved {si(o.achieved_flops_per_s, 'FLOP/s')} "
        f"({o.peak_share:.1%} of {si(o.peak_flops, 'FLOP/s')})",
        f"- roofline bound: {o.roofline_seconds * 1e3:.3f} ms (simulated time is "
        f"{o.roofline_ratio:.1f}x)",
        f"- kernel launch overhead: {o.launch_share:.1%} of the time",
        f"- global-memory traffic: {si(o.hbm_bytes, 'B')}",
        "- utilisation: " + ", ".join(f"{u} {v:.1%}" for u, v in o.utilization.items()),
        "- time by bound: " + ", ".join(f"{b} {s:.1%}" for b, s in o.bounds.items()),
    ]
    lines += [f"- note ({k}): {v}" for k, v in o.notes.items()]
    lines += ["", "## Top layers", "", *_md_table(top(model.rows, TOP_KERNELS), levels),
              "", "## Top kernels", "", *_md_table(top(model.kernels, TOP_KERNELS), levels), ""]
    return "\n".join(lines)


def write_layers_csv(path: Path, result: RunResult, ceilings: Ceilings) -> Path:
    """One row per layer (columns: `reports.tables.CSV_COLUMNS`, bytes per level, utilisation)."""
    header, body = csv_rows(report_model(result, ceilings).rows, ceilings)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body)
    return path


def write_report(result: RunResult, out_dir: str | Path,
                 ceilings: Ceilings | None = None) -> ReportFiles:
    """Write the four report files of ``result`` into ``out_dir`` (created if missing).
    ``ceilings`` default to the roofs of the preset ``result.hw`` names."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    roofs = ceilings or default_ceilings(result)
    html = out / "report.html"
    html.write_text(render_report(result, roofs))
    summary = out / "summary.md"
    summary.write_text(summary_markdown(result, roofs))
    return ReportFiles(html, summary, write_layers_csv(out / "layers.csv", result, roofs),
                       save_result(out / "result.json", result, roofs))
