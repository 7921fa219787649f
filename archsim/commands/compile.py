"""`archsim compile MODEL --hw PRESET [--out FILE] [--kernel NAME] [--lines N]`: the assembly the
compiler emits for a model, kernel by kernel, each with its origin (the graph nodes fused into
it), its analytic cost and the tiling record that explains the choice."""

from __future__ import annotations

from pathlib import Path

import click


def _assembly(program) -> str:
    if program.__class__.__module__.startswith("isa.simt"):
        from isa.simt import format_kernel as format_simt

        return format_simt(program)
    from isa.davinci import format_kernel

    return format_kernel(program)


def gm_line(exe) -> str:
    """The global-memory figures of ``exe``: the liveness plan against the naive layout, or
    the bump-allocated total when the target does not plan GM."""
    if exe.memory is not None:
        return exe.memory.summary()
    from compiler.memory_plan import format_bytes

    return f"{format_bytes(exe.gm_bytes)}, one buffer per value (not planned by liveness)"


def render(exe, kernel: str | None, lines: int | None) -> str:
    """The listing of ``exe``: a header per kernel, then its assembly (``lines`` per kernel)."""
    parts = [f"# {exe.name} for {exe.hw} ({exe.target}): {len(exe.kernels)} kernels, "
             f"{exe.instruction_count} instructions, {exe.flops / 1e9:.3f} GFLOP",
             f"# GM: {gm_line(exe)}"]
    for launch in exe.kernels:
        if kernel is not None and kernel not in (launch.name, launch.layer) \
                and kernel not in launch.origin:
            continue
        parts += [
            "",
            f"# kernel {launch.name} ({launch.op})",
            f"# origin: {', '.join(launch.origin)}",
            f"# cost: {launch.flops} FLOP, at least {launch.min_bytes} B of global memory",
        ]
        if launch.tiling:
            parts += [f"# {line}" for line in f"tiling: {launch.tiling}".splitlines()]
        text = _assembly(launch.program).splitlines()
        if lines is not None and len(text) > lines:
            text = text[:lines] + [f"# ... {len(text) - lines} more lines (--lines 0: all)"]
        parts += text
    return "\n".join(parts) + "\n"


@click.command(name="compile")
@click.argument("model")
@click.option("--hw", default="ascend910", show_default=True,
              help="Preset name or config file (TOML/YAML/JSON).")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out_file", default=None, metavar="FILE",
              help="Write the full listing to FILE instead of printing it.")
@click.option("--kernel", default=None,
              help="Only the kernel (or layer) of this name, or the kernel that runs that "
                   "graph node.")
@click.option("--lines", default=40, show_default=True, type=click.IntRange(min=0),
              help="Assembly lines printed per kernel (0: all).")
@click.option("--launch-per-kernel", is_flag=True,
              help="DaVinci: one launch per kernel instead of merging kernels whose cores "
                   "exchange no data.")
def compile_command(model: str, hw: str, batch: int, out_file: str | None, kernel: str | None,
                    lines: int, launch_per_kernel: bool) -> None:
    """Compile MODEL for HW and print each kernel's assembly with its origin and tiling."""
    from archsim.simulate import compile_model, load_model
    from hw import load_hw

    _, graph = load_model(model, batch)
    exe = compile_model(graph, load_hw(hw), merge_launches=not launch_per_kernel)
    if out_file is not None:
        Path(out_file).write_text(render(exe, kernel, None))
        click.echo(f"wrote {out_file} ({len(exe.kernels)} kernels, {exe.instruction_count} "
                   "instructions)")
        return
    click.echo(render(exe, kernel, lines or None), nl=False)
