"""`archsim run [MODEL]`: the main job.

Until the compiler lands, MODEL is a DaVinci assembly program (a .s path or a built-in example
name); the default is the double-buffered matmul example.
"""

from __future__ import annotations

import json
import sys

import click

from archsim.asm_runner import run_asm
from archsim.render import check_lines, console, pipe_table, summary_lines

DEFAULT_PROGRAM = "matmul_128x256x512_db"


@click.command()
@click.argument("model", default=DEFAULT_PROGRAM)
@click.option("--hw", default=None,
              help="Preset name or config file (TOML/YAML/JSON); default: the program's "
                   "'.note hw' line, else ascend910.")
@click.option("--mode", type=click.Choice(["timing", "functional"]), default="timing",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def run(model: str, hw: str | None, mode: str, as_json: bool) -> None:
    """Run MODEL on the hardware HW and report time and utilisation."""
    result = run_asm(model, hw, functional=mode == "functional")
    r = result.run
    if as_json:
        record = {
            "model": result.kernel.name, "hw": result.run.chip, "batch": 1, "mode": mode,
            "cycles": r.total_cycles, "seconds": r.seconds, "flops": r.flops,
            "utilization": {
                "cube": r.utilization("M"), "vector": r.utilization("V"),
                "scalar": r.utilization("S"), "mte1": r.utilization("MTE1"),
                "mte2": r.utilization("MTE2"), "mte3": r.utilization("MTE3"),
            },
            "checks": [{"name": c.name, "passed": c.passed} for c in result.checks],
        }
        click.echo(json.dumps(record))
    else:
        out = console()
        out.print(f"{result.kernel.name} on {result.run.chip} ({mode} mode)")
        for line in summary_lines(r):
            out.print(line)
        out.print(pipe_table(r))
        for line in check_lines(result.checks):
            out.print(line)
    if not result.passed:
        sys.exit(1)
