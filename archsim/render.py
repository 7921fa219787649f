"""Terminal rendering of run results for the CLI (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from archsim.checks import CheckResult
from hw.davinci.stats import PIPE_NAMES, KernelRun

_WIDTH_WHEN_PIPED = 160


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
        paths = ", ".join(f"{path} {nbytes} B" for path, nbytes in sorted(run.bytes_by_path.items()))
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
