"""`archsim asm FILE --hw PRESET [--functional]`: run a hand-written DaVinci program."""

from __future__ import annotations

import sys

import click

from archsim.asm_runner import run_asm
from archsim.render import check_lines, console, pipe_table, summary_lines, timeline_chart


@click.command()
@click.argument("program")
@click.option("--hw", default=None,
              help="Preset name or config file (TOML/YAML/JSON); default: the program's "
                   "'.note hw' line, else ascend910.")
@click.option("--functional", is_flag=True,
              help="Move real data and check the outputs against the file's .expect lines.")
@click.option("--timeline", is_flag=True, help="Print an ASCII timeline of the pipes (core 0).")
def asm(program: str, hw: str | None, functional: bool, timeline: bool) -> None:
    """Run PROGRAM (a .s file or a built-in example name) and print cycles and per-pipe
    utilisation; with --functional also whether the outputs match NumPy."""
    result = run_asm(program, hw, functional=functional, trace=timeline)
    out = console()
    kind = "functional" if functional else "timing"
    out.print(f"{result.kernel.name} on {result.run.chip} ({kind} mode)")
    for line in summary_lines(result.run):
        out.print(line)
    out.print(pipe_table(result.run))
    if timeline:
        out.print(timeline_chart(result.run), highlight=False, markup=False)
    if functional:
        for line in check_lines(result.checks):
            out.print(line)
        if not result.checks:
            out.print("no .expect checks in this program")
        if not result.passed:
            sys.exit(1)
