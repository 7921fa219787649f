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


def compile_graph(graph: Graph, target: Any, options: CompileOptions | None = None) -> Executable:
    """Compile ``graph`` for the chip ``target`` (a DaVinci chip, or a GPU: anything with
    ``sms``): the pass pipeline, then lowering for that target."""
    if is_gpu(target):
        from compiler.simt.lower import lower_graph as lower_simt

        options = options or CompileOptions(target="simt")
        if options.target != "simt":
            raise CompileError(f"{graph.name}: {target.name} is a GPU; compile with "
                               f"CompileOptions(target='simt'), not {options.target!r}")
        return lower_simt(run_pipeline(graph, options), target, options, name=graph.name)
    if options is None:
        separated = getattr(target, "organisation", "coupled") == "separated"
        options = CompileOptions(target="davinci", epilogue="fixpipe" if separated else "vector")
    optimized = run_pipeline(graph, options)
    return lower_graph(optimized, target, options, name=graph.name)
