"""`archsim sweep SPEC` runs a design-space sweep; `archsim sweep-results DB` exports it.

The sweep command owns the terminal: a rich progress bar (points done, rate in points per
minute, ETA) on stderr, a summary on stdout, and the signal handlers that turn the first
Ctrl-C/SIGTERM into a graceful stop and the second into an immediate one. Exit status: 0 when
every point is recorded, 1 when some point failed or the sweep was interrupted (run it again to
resume), 2 for bad input.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from archsim.errors import InputError

if TYPE_CHECKING:
    from archsim.sweep import Controls, Point, SweepSummary
    from archsim.sweep.worker import Outcome


class _RateColumn(ProgressColumn):
    """Points per minute over the progress bar's recent window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- pts/min" if speed is None else f"{speed * 60:.1f} pts/min")


@contextmanager
def _signals(controls: Controls) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``controls.request`` while the sweep runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        controls.request()
        # os.write: a handler may interrupt a buffered write to stderr (the progress bar)
        os.write(2, b"abandoning the running points\n" if controls.abandon.is_set() else
                 b"stopping once the running points finish (signal again to abandon them)\n")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Local worker processes (default: CPU count; 0 runs inline).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run on this Dask distributed scheduler instead of local workers.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite result store (default: ./<spec file name>.db).")
@click.option("--retry-failed", is_flag=True, help="Run again points that recorded an error.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write the HTML sweep report into this directory afterwards.")
def sweep(spec: Path, workers: int | None, scheduler: str | None, db: Path | None,
          retry_failed: bool, report_dir: Path | None) -> None:
    """Run the design-space sweep described by SPEC (TOML or YAML), resuming if it was
    started before: finished points are skipped, each new one is saved as it finishes."""
    from archsim.sweep import Controls, SweepError, load_spec, run_sweep  # noqa: F811

    parsed = load_spec(spec)
    db = db or Path(spec.stem + ".db")
    controls = Controls()
    err = Console(stderr=True)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), _RateColumn(), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err,
                        disable=not err.is_terminal)
    state: dict[str, int] = {"failed": 0}
    task_id = progress.add_task(parsed.name, total=None)

    def on_start(todo: int, total: int) -> None:
        progress.update(task_id, total=todo)
        progress.start()

    def on_point(point: Point, outcome: Outcome) -> None:
        if outcome.status != "ok":
            state["failed"] += 1
            progress.update(task_id, description=f"{parsed.name} ({state['failed']} failed)")
        progress.advance(task_id)

    # the handlers stay until the summary is out: a late second signal must not kill it
    with _signals(controls):
        try:
            summary = run_sweep(parsed, db, workers=workers, scheduler=scheduler,
                                retry_failed=retry_failed, controls=controls,
                                on_start=on_start, on_point=on_point)
        except SweepError as exc:
            progress.stop()
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        progress.stop()
        _print_summary(summary, db)
    if report_dir is not None:
        from archsim.sweep import write_report

        click.echo(f"report: {write_report(db, report_dir, sweep=parsed.name)}")
    if summary.interrupted or summary.failed:
        sys.exit(1)


def _print_summary(s: SweepSummary, db: Path) -> None:
    rate = s.ran / s.wall_s * 60 if s.wall_s > 0 else 0.0
    click.echo(f"sweep {s.name}: {s.total} points, {s.skipped} already done, "
               f"{s.ran} run now ({s.failed} failed), {s.compilations} compilations, "
               f"{s.wall_s:.1f} s ({rate:.1f} points/min)")
    if s.excluded:
        click.echo(f"  {s.excluded} assignments excluded by constraints")
    if s.invalid:
        params, error = s.invalid[0]
        click.echo(f"  {len(s.invalid)} assignments give an invalid config, e.g. {params}: "
                   f"{error.splitlines()[0]}")
    if s.interrupted:
        click.echo(f"  interrupted: finished points are saved in {db}; run again to resume")
    click.echo(f"results: {db}")


@click.command("sweep-results")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sweep", "name", default=None, help="Only this sweep of the database.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the table as CSV.")
@click.option("--parquet", "parquet_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the table as Parquet.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write the HTML sweep report into this directory.")
def sweep_results(db: Path, name: str | None, csv_path: Path | None,
                  parquet_path: Path | None, report_dir: Path | None) -> None:
    """Show or export the results of the sweeps in DB (a table when no file is asked for)."""
    from archsim.sweep import results_frame, write_report

    if not db.is_file():
        raise InputError(f"{db}: no such sweep database")
    frame = results_frame(db, sweep=name)
    if csv_path:
        frame.to_csv(csv_path, index=False)
        click.echo(f"wrote {len(frame)} rows to {csv_path}")
    if parquet_path:
        try:
            frame.to_parquet(parquet_path, index=False)
        except ImportError as exc:
            raise InputError(f"--parquet needs pyarrow ({exc})") from None
        click.echo(f"wrote {len(frame)} rows to {parquet_path}")
    if report_dir:
        click.echo(f"report: {write_report(db, report_dir, sweep=name)}")
    if not (csv_path or parquet_path or report_dir):
        import pandas as pd

        with pd.option_context("display.max_columns", 12, "display.width", 160):
            click.echo(frame.to_string(index=False, max_rows=60))
