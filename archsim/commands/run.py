"""`archsim run MODEL --hw PRESET [--batch N] [--mode timing|functional] [--report DIR]
[--trace FILE] [--json]`: the main job.

MODEL is a zoo spec (``resnet50``, ``bert_base:seq=128``, ``gemm:m=8192,n=4096,k=4096``), a
path to an ``.onnx`` file, or a DaVinci assembly program (a ``.s`` file or a built-in example
name) which runs as written.
"""

from __future__ import annotations

import json
import sys

import click

from archsim.asm_runner import EXAMPLES_DIR, run_asm
from archsim.errors import InputError
from archsim.render import check_lines, console, pipe_table, run_table, summary_lines
from hw.results import RunResult

DEFAULT_MODEL = "resnet50"


def _is_program(model: str) -> bool:
    """A ``.s`` file or the name of a built-in assembly example (not a zoo model or ONNX)."""
    if model.endswith(".s"):
        return True
    return (EXAMPLES_DIR / f"{model}.s").exists()


@click.command()
@click.argument("model", default=DEFAULT_MODEL)
@click.option("--hw", default=None,
              help="Preset name or config file (TOML/YAML/JSON); default ascend910.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--mode", type=click.Choice(["timing", "functional"]), default="timing",
              show_default=True)
@click.option("--report", "report_dir", default=None, metavar="DIR",
              help="Write report.html, summary.md, layers.csv and result.json into DIR.")
@click.option("--trace", "trace_file", default=None, metavar="FILE",
              help="Write a Chrome trace-event JSON timeline (Perfetto, chrome://tracing).")
@click.option("--train", is_flag=True,
              help="Run one training step (forward, backward, SGD with momentum).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jobs", default=None, type=click.IntRange(min=1),
              help="Processes that share a timing run's kernels (default: the CPUs available, "
                   "at most 8); the numbers do not depend on it.")
@click.option("--launch-per-kernel", is_flag=True,
              help="DaVinci: one launch per kernel (the layer-at-a-time schedule, a report "
                   "row per layer) instead of merging kernels whose cores exchange no data.")
def run(model: str, hw: str | None, batch: int, mode: str, report_dir: str | None,
        trace_file: str | None, train: bool, as_json: bool, jobs: int | None,
        launch_per_kernel: bool) -> None:
    """Compile MODEL for the hardware HW, run it and report time and utilisation."""
    if _is_program(model):
        if report_dir is not None or trace_file is not None:
            raise InputError(f"--report and --trace apply to models; {model} is an assembly "
                             f"program (see `archsim asm {model} --timeline`)")
        _run_program(model, hw, mode, as_json)
        return
    from archsim.parallel import default_workers
    from archsim.simulate import compile_and_run, gm_figures

    hw = hw or "ascend910"
    exe, result = compile_and_run(model, hw=hw, batch=batch, mode=mode,
                                  trace=trace_file is not None, train=train,
                                  workers=jobs or default_workers(),
                                  merge_launches=not launch_per_kernel)
    written = _write_outputs(result, hw, report_dir, trace_file)
    if as_json:
        # DESIGN.md's keys, plus "gm": the GM plan's peak against the naive layout
        click.echo(json.dumps({**result.to_json(), "gm": gm_figures(exe)}))
        return
    out = console()
    out.print(run_table(result))
    for key, note in result.notes.items():
        out.print(f"{key}: {note}")
    for path in written:
        out.print(f"wrote {path}")


def _write_outputs(result: RunResult, hw: str, report_dir: str | None,
                   trace_file: str | None) -> list[str]:
    """Write the report directory and the trace, as asked; return what was written."""
    written: list[str] = []
    if report_dir is not None:
        from hw import load_hw
        from reports import ceilings_for, write_report

        files = write_report(result, report_dir, ceilings_for(load_hw(hw)))
        written.append(str(files.html))
    if trace_file is not None:
        from reports import write_trace

        written.append(str(write_trace(trace_file, result)))
    return written


def _run_program(model: str, hw: str | None, mode: str, as_json: bool) -> None:
    result = run_asm(model, hw, functional=mode == "functional")
    r = result.run
    if as_json:
        units = {"cube": "M", "vector": "V", "scalar": "S", "mte1": "MTE1", "mte2": "MTE2",
                 "mte3": "MTE3"}
        click.echo(json.dumps({
            "model": result.kernel.name, "hw": r.chip, "batch": 1, "mode": mode,
            "cycles": r.total_cycles, "seconds": r.seconds, "flops": r.flops,
            "utilization": {unit: r.utilization(pipe) for unit, pipe in units.items()},
            "checks": [{"name": c.name, "passed": c.passed} for c in result.checks],
        }))
    else:
        out = console()
        out.print(f"{result.kernel.name} on {r.chip} ({mode} mode)")
        for line in summary_lines(r):
            out.print(line)
        out.print(pipe_table(r))
        for line in check_lines(result.checks):
            out.print(line)
    if not result.passed:
        sys.exit(1)
