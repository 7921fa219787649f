"""`archsim compare MODEL --hw A --hw B [...] --out DIR`: one model on several chips side by
side (time, throughput, utilisation, traffic, per-layer times and one roofline with all).

Any preset or config file `hw.load_hw` knows may be named. A chip that cannot run the model
(an unknown preset, no compiler for its target yet, a model that does not fit) is left out
with the reason, on the terminal and on the page, as long as at least one chip ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from archsim.errors import USER_ERRORS, InputError
from archsim.render import console
from compiler.errors import CompileError
from hw.davinci.config import DaVinciConfig
from hw.results import RunResult

if TYPE_CHECKING:  # reports (and matplotlib) load only when a comparison runs
    from reports import Ceilings

_CANNOT_RUN: tuple[type[Exception], ...] = (*USER_ERRORS, CompileError, NotImplementedError)


class _Skipped(Exception):
    """A chip that cannot run the model; the message says why."""


def _run_on(model: str, hw: str, batch: int) -> tuple[RunResult, Ceilings]:
    from archsim.simulate import simulate
    from hw import load_hw
    from reports import ceilings_for

    try:
        config = load_hw(hw)
        return simulate(model, hw=hw, batch=batch), ceilings_for(config)
    except _CANNOT_RUN as exc:
        raise _Skipped(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - see below
        # A target whose compile-and-run path has not landed yet (a GPU config while only
        # DaVinci lowering exists) fails in its own way; name it instead of failing the page.
        if isinstance(config, DaVinciConfig):
            raise
        raise _Skipped(f"cannot run {model} on a {type(config).__name__} target yet "
                       f"({type(exc).__name__}: {exc})") from None


def _summary(runs: list[tuple[RunResult, Ceilings]], model: str, batch: int) -> Table:
    table = Table(title=f"{model}, batch {batch}")
    for header in ("hw", "ms", "per s", "x roofline", "launch %"):
        table.add_column(header, justify="left" if header == "hw" else "right")
    for r, _ in runs:
        launch = sum(k.run.launch_cycles for k in r.kernels) / max(r.cycles, 1)
        ratio = f"{r.seconds / r.roofline_seconds:.1f}" if r.roofline_seconds else "-"
        table.add_row(r.hw, f"{r.seconds * 1e3:.3f}", f"{r.throughput_per_s:.1f}", ratio,
                      f"{100 * launch:.1f}")
    return table


@click.command()
@click.argument("model")
@click.option("--hw", "chips", multiple=True, required=True,
              help="A preset name or config file; give two or more.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out_dir", default="compare", show_default=True, metavar="DIR",
              help="Directory for compare.html and each chip's result-<hw>.json.")
def compare(model: str, chips: tuple[str, ...], batch: int, out_dir: str) -> None:
    """Run MODEL on every --hw chip and render them side by side."""
    if len(chips) < 2:
        raise InputError("compare needs at least two --hw chips")
    runs: list[tuple[RunResult, Ceilings]] = []
    skipped: dict[str, str] = {}
    out = console()
    for hw in chips:
        try:
            runs.append(_run_on(model, hw, batch))
        except _Skipped as exc:
            skipped[hw] = str(exc)
            out.print(f"[yellow]{hw} not compared:[/] {exc}")
    if not runs:
        raise InputError(f"none of the chips could run {model}: " + "; ".join(
            f"{hw}: {why}" for hw, why in skipped.items()))
    from reports import write_comparison

    path = write_comparison(runs, out_dir, skipped)
    out.print(_summary(runs, model, batch))
    out.print(f"wrote {path}")
