"""The compiler's entry point: graph passes, then lowering for the target."""

from __future__ import annotations

from typing import Any

from compiler.davinci.lower import lower_graph
from compiler.executable import Executable
from compiler.options import CompileOptions
from compiler.pipeline import run_pipeline
from framework import Graph


def compile_graph(graph: Graph, target: Any, options: CompileOptions | None = None) -> Executable:
    """Compile ``graph`` for the chip ``target`` (DaVinci): the pass pipeline, then lowering."""
    if options is None:
        separated = getattr(target, "organisation", "coupled") == "separated"
        options = CompileOptions(target="davinci", epilogue="fixpipe" if separated else "vector")
    optimized = run_pipeline(graph, options)
    return lower_graph(optimized, target, options, name=graph.name)
