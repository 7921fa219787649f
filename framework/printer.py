"""Readable text form of a Graph (what ``str(graph)`` prints).

    graph mlp(x: float32[8,4]) -> (y)
      const w1: float32[16,4]
      h = linear(x, w1, b1) : float32[8,16]
      y = relu(h) : float32[8,16]
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .ir import Graph, Node


def format_attrs(attrs: Any) -> str:
    """``{field=value, ...}`` for an attrs record ('' when there is none)."""
    if attrs is None:
        return ""
    parts = []
    for f in dataclasses.fields(attrs):
        value = getattr(attrs, f.name)
        if isinstance(value, Graph):  # a fused body: its name lists its ops
            value = value.name
        elif dataclasses.is_dataclass(value):
            value = format_attrs(value)
        parts.append(f"{f.name}={value}")
    return "{" + ", ".join(parts) + "}"


def format_node(node: Node, graph: Graph | None = None) -> str:
    """One line: ``outs = op(inputs) {attrs} : types  # name``."""
    outs = ", ".join(node.outputs)
    text = f"{outs} = {node.op}({', '.join(node.inputs)})"
    attrs = format_attrs(node.attrs)
    if attrs:
        text += " " + attrs
    if graph is not None:
        text += " : " + ", ".join(str(graph.types[o]) for o in node.outputs if o in graph.types)
    if node.name not in node.outputs:
        text += f"  # {node.name}"
    return text


def format_graph(graph: Graph) -> str:
    """The whole graph: header with typed inputs, constants, then nodes in stored order."""
    ins = ", ".join(f"{i}: {graph.types.get(i, '?')}" for i in graph.inputs)
    lines = [f"graph {graph.name}({ins}) -> ({', '.join(graph.outputs)})"]
    lines += [f"  const {k}: {graph.types.get(k, '?')}" for k in graph.constants]
    lines += ["  " + format_node(n, graph) for n in graph.nodes]
    return "\n".join(lines)
