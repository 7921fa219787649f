"""The compiler's entry point: graph passes, then lowering for the target."""

from __future__ import annotations

from typing import Any

from compiler.davinci.lower import lower_graph
from compiler.executable import Executable
from framework import Graph


def compile_graph(graph: Graph, target: Any, options: Any = None) -> Executable:
    """Compile ``graph`` for the chip ``target`` (DaVinci)."""
    return lower_graph(graph, target, options, name=graph.name)
