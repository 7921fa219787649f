"""Terminal rendering of run results for the CLI (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from archsim.checks import CheckResult
from hw.davinci.stats import PIPE_NAMES, KernelRun
from hw.results import RunResult

_WIDTH_WHEN_PIPED = 160
_FLOW_ORDER = ("S", "MTE2", "MTE1", "M", "FIX", "V", "MTE3")  # the way data flows


def console() -> Console:
    """A console that keeps table rows whole when output is piped."""
    out = Console()
    return out if out.is_terminal else Console(width=_WIDTH_WHEN_PIPED)


def pipe_table(run: KernelRun) -> Table:
    """Per-pipe busy share, flag waits, queue-full stalls and instruction counts."""
    table = Table(title=f"{run.name}: {run.cycles} cycles on {run.cores} core(s)")
    for header in ("pipe", "busy %", "busy cycles", "flag wait", "queue full", "instructions"):
        table.add_column(header, justify="left" if header == "pipe" else "right")
    for name in PIPE_NAMES:
        stats = run.pipes.get(name)
        if stats is None or stats.instructions == 0:
            continue
        table.add_row(name, f"{100 * run.utilization(name):.1f}", str(stats.busy_cycles),
                      str(stats.flag_wait_cycles), str(stats.queue_full_cycles),
                      str(stats.instructions))
    return table


def summary_lines(run: KernelRun) -> list[str]:
    """Cycles, time and traffic in a few lines."""
    lines = [
        f"cycles: {run.cycles} (+{run.launch_cycles} kernel launch) = "
        f"{run.seconds * 1e6:.2f} us at {run.freq_hz / 1e9:.3f} GHz",
    ]
    if run.bytes_by_path:
        paths = ", ".join(f"{p} {n} B" for p, n in sorted(run.bytes_by_path.items()))
        lines.append(f"bytes moved: {paths}")
    if run.flops:
        lines.append(f"flops: {run.flops} ({run.flops / max(run.cycles, 1):.0f} per cycle)")
    return lines


def check_lines(checks: list[CheckResult]) -> list[str]:
    """One PASS/FAIL line per ``.expect`` check."""
    return [
        f"{'PASS' if c.passed else 'FAIL'} {c.name} = {c.expression}: max |error| "
        f"{c.max_abs_error:.3g} (tolerance {c.tolerance:.3g})"
        for c in checks
    ]


def timeline_chart(run: KernelRun, width: int = 72, core: int = 0) -> str:
    """An ASCII pipe timeline of one core: '#' busy, '.' blocked on a flag, ' ' idle.

    Each column covers ``cycles / width`` cycles; a column shows '#' when the pipe worked at
    any time within it. Needs a run recorded with ``trace``.
    """
    span = max(run.cycles, 1)
    scale = span / width
    rows: dict[str, list[str]] = {}
    for event in run.events:
        if event.core != core:
            continue
        row = rows.setdefault(f"{event.unit}:{event.pipe}" if event.unit != "core"
                              else event.pipe, [" "] * width)
        if event.flag_wait_from is not None:
            for col in range(int(event.flag_wait_from / scale), int(event.start / scale)):
                if row[min(col, width - 1)] == " ":
                    row[min(col, width - 1)] = "."
        first = int(event.start / scale)
        last = max(first, int((event.end - 1) / scale)) if event.end > event.start else first
        for col in range(first, min(last, width - 1) + 1):
            row[col] = "#"
    order = {name: i for i, name in enumerate(_FLOW_ORDER)}
    names = sorted(rows, key=lambda n: (n.split(":")[0] if ":" in n else "", order.get(
        n.split(":")[-1], 99)))
    label = max((len(n) for n in names), default=4)
    ruler = f"{'cycle':<{label}} 0{str(span).rjust(width - 1)}"
    lines = [ruler] + [f"{name:<{label}} {''.join(rows[name])}" for name in names]
    lines.append(f"{'':<{label}} ('#' busy, '.' waiting on a flag; "
                 f"one column = {scale:.1f} cycles)")
    return "\n".join(lines)


def run_table(result: RunResult, top: int = 12) -> Table:
    """A model run: totals in the title, the slowest layers as rows."""
    util = result.utilization()
    title = (
        f"{result.model} on {result.hw}, batch {result.batch} ({result.mode}): "
        f"{result.seconds * 1e3:.3f} ms, {result.throughput_per_s:.1f}/s, "
        f"{result.flops / 1e9:.2f} GFLOP, roofline {result.roofline_seconds * 1e3:.3f} ms\n"
        + "  ".join(f"{unit} {value:.0%}" for unit, value in util.items())
    )
    table = Table(title=title)
    for header in ("layer", "op", "us", "share", "GFLOP", "cube %"):
        table.add_column(header, justify="left" if header in ("layer", "op") else "right")
    layers = sorted(result.layers(), key=lambda row: -row["seconds"])
    total = result.seconds or 1.0
    for row in layers[:top]:
        table.add_row(row["name"], row["op"], f"{row['seconds'] * 1e6:.1f}",
                      f"{row['seconds'] / total:.1%}", f"{row['flops'] / 1e9:.3f}",
                      f"{row['utilization'].get('cube', 0.0):.0%}")
    if len(layers) > top:
        table.caption = f"{len(layers) - top} more layers"
    return table
