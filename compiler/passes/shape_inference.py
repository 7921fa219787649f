"""Shape inference: re-derive every node's output types from the shape rules."""

from __future__ import annotations

from framework import Graph, TensorType, topological
from framework.shapes import infer_types

from ..errors import CompileError


def infer_shapes(graph: Graph) -> Graph:
    """Re-derive every TensorType from SHAPE_RULES, in topological order.

    Returns the graph with its nodes in topological order and the re-derived types (keeping
    each value's layout tag). Raises CompileError naming the first node whose declared output
    type disagrees with the rules, or whose inputs have no type.
    """
    types: dict[str, TensorType] = {}
    for name in (*graph.inputs, *graph.constants):
        types[name] = graph.type_of(name)
    nodes = tuple(topological(graph))
    for node in nodes:
        where = f"node {node.name!r} ({node.op})"
        missing = [v for v in node.inputs if v not in types]
        if missing:
            raise CompileError(f"{where}: inputs {missing} have no type")
        inferred = infer_types(node.op, [types[v] for v in node.inputs], node.attrs, where)
        if len(inferred) != len(node.outputs):
            raise CompileError(f"{where}: the op produces {len(inferred)} outputs, the node "
                               f"names {len(node.outputs)}")
        for out, t in zip(node.outputs, inferred, strict=True):
            declared = graph.types.get(out)
            if declared is not None and (declared.shape, declared.dtype) != (t.shape, t.dtype):
                raise CompileError(f"{where}: output {out!r} is typed {declared} but the shape "
                                   f"rule gives {t}")
            types[out] = TensorType(t.shape, t.dtype, declared.layout if declared else t.layout)
    return graph.replace(nodes=nodes, types=types)
