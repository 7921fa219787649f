"""Layout assignment: tag every value's TensorType with the layout it has on the target.

DaVinci: conv weights (and weight gradients) FRACTAL_Z; matmul/gemm/linear operands and
results of rank >= 2 NZ (fractal matrices; batch dims stay outer, so the 4-D products of
attention are NZ too); other 4-D values (activations) NC1HWC0; everything else ND.
SIMT: NHWC for 4-D activations, ND otherwise. Inside a FUSED body, inputs take the layout of
the outer values they stand for, and the chain values take the fused result's layout (an
epilogue works on the anchor's output tiles in place). Layouts are tags only: the graph still
computes the same values (the interpreter ignores them). Graph inputs and outputs are tagged
like any other value: whoever feeds or reads the device converts at that boundary.
"""

from __future__ import annotations

import dataclasses

from framework import Graph, Node, OpCode

from ..errors import CompileError
from ..layouts import FRACTAL_Z, NC1HWC0, ND, NHWC, NZ
from ..options import TARGETS

_MATRIX_OPS = frozenset({OpCode.MATMUL, OpCode.GEMM, OpCode.LINEAR})
_CONV_WEIGHT_OPS = frozenset({OpCode.CONV2D, OpCode.CONV_TRANSPOSE2D})
_PRIORITY = {FRACTAL_Z: 3, NZ: 2}


def _roles(node: Node) -> list[tuple[str, str]]:
    """(value, layout) claims a DaVinci node makes about its operands and results."""
    if node.op is OpCode.FUSED:
        anchor = node.attrs.body.nodes[0]
        outer = dict(zip(node.attrs.body.inputs, node.inputs, strict=True))
        claims = [(outer[v], lay) for v, lay in _roles(anchor) if v in outer]
        if anchor.op in _MATRIX_OPS:
            claims.append((node.outputs[0], NZ))
        return claims
    if node.op in _CONV_WEIGHT_OPS:
        return [(node.inputs[1], FRACTAL_Z)]
    if node.op is OpCode.CONV2D_GRAD_WEIGHT:
        return [(node.outputs[0], FRACTAL_Z)]
    if node.op in _MATRIX_OPS:
        return [(v, NZ) for v in (*node.inputs[:2], node.outputs[0])]
    return []


def _davinci_layouts(graph: Graph) -> dict[str, str]:
    layout: dict[str, str] = {}
    for node in graph.nodes:
        for value, lay in _roles(node):
            if graph.types[value].rank >= 2 and \
                    _PRIORITY[lay] > _PRIORITY.get(layout.get(value, ND), 0):
                layout[value] = lay
    for value, t in graph.types.items():
        if value not in layout:
            activation = t.rank == 4 and value not in graph.constants
            layout[value] = NC1HWC0 if activation else ND
    return layout


def _simt_layouts(graph: Graph) -> dict[str, str]:
    return {v: NHWC if t.rank == 4 and v not in graph.constants else ND
            for v, t in graph.types.items()}


def _retag_body(node: Node, layout: dict[str, str]) -> Node:
    body: Graph = node.attrs.body
    inner = {v: layout[o] for v, o in zip(body.inputs, node.inputs, strict=True)}
    types = {v: dataclasses.replace(t, layout=inner.get(v, layout[node.outputs[0]]))
             for v, t in body.types.items()}
    attrs = dataclasses.replace(node.attrs, body=body.replace(types=types))
    return node.replace(attrs=attrs)


def assign_layouts(graph: Graph, target: str = "davinci") -> Graph:
    """Return ``graph`` with every value's layout set for ``target`` ("davinci" or "simt")."""
    if target not in TARGETS:
        raise CompileError(f"assign_layouts: unknown target {target!r} (known: {TARGETS})")
    layout = _davinci_layouts(graph) if target == "davinci" else _simt_layouts(graph)
    types = {v: dataclasses.replace(t, layout=layout[v]) for v, t in graph.types.items()}
    nodes = tuple(_retag_body(n, layout) if n.op is OpCode.FUSED else n for n in graph.nodes)
    return graph.replace(nodes=nodes, types=types)
