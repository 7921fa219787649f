"""The compiler's entry point: graph passes, then lowering for the target."""

from __future__ import annotations

from typing import Any

from compiler.davinci.lower import lower_graph
from compiler.errors import CompileError
from compiler.executable import Executable
from compiler.options import CompileOptions
from compiler.pipeline import run_pipeline
from compiler.simt.target import is_gpu
from framework import Graph


def default_options(target: Any) -> CompileOptions:
    """The options a chip is compiled with by default: the SIMT lowering for a GPU; on
    DaVinci chips, FixPipe epilogues where the cube and vector units are separated."""
    if is_gpu(target):
        return CompileOptions(target="simt")
    separated = getattr(target, "organisation", "coupled") == "separated"
    return CompileOptions(target="davinci", epilogue="fixpipe" if separated else "vector")


def compile_graph(graph: Graph, target: Any, options: CompileOptions | None = None) -> Executable:
    """Compile ``graph`` for the chip ``target`` (a DaVinci chip, or a GPU: anything with
    ``sms``): the pass pipeline, then lowering for that target."""
    options = options or default_options(target)
    if is_gpu(target):
        from compiler.simt.lower import lower_graph as lower_simt

        if options.target != "simt":
            raise CompileError(f"{graph.name}: {target.name} is a GPU; compile with "
                               f"CompileOptions(target='simt'), not {options.target!r}")
        return lower_simt(run_pipeline(graph, options), target, options, name=graph.name)
    optimized = run_pipeline(graph, options)
    return lower_graph(optimized, target, options, name=graph.name)
