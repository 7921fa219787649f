"""The graph verifier: every structural and type invariant of a Graph, or FrameworkError naming
the first offending node or value."""

from __future__ import annotations

from .errors import FrameworkError
from .ir import Graph, TensorType, topological
from .shapes import infer_types


def verify_graph(graph: Graph) -> Graph:
    """Check ``graph`` and return it unchanged.

    Checks: value names unique (inputs, constants and node outputs are disjoint and never
    redefined), node names unique, every node input defined, no cycles, every value typed,
    constants match their declared types, each node's output types equal what SHAPE_RULES infer
    from its input types, and every graph output defined.
    """
    g = f"graph {graph.name!r}"
    defined: dict[str, str] = {}
    for name in graph.inputs:
        if name in defined:
            raise FrameworkError(f"{g}: input {name!r} declared twice")
        defined[name] = "input"
    for name in graph.constants:
        if name in defined:
            raise FrameworkError(f"{g}: constant {name!r} clashes with an input")
        defined[name] = "constant"
    node_names: set[str] = set()
    for node in graph.nodes:
        if node.name in node_names:
            raise FrameworkError(f"{g}: node name {node.name!r} used twice")
        node_names.add(node.name)
        for out in node.outputs:
            if out in defined:
                raise FrameworkError(f"{g}: node {node.name!r} ({node.op}) redefines "
                                     f"{out!r} (already a {defined[out]})")
            defined[out] = f"output of node {node.name!r}"
    for name in defined:
        if name not in graph.types:
            raise FrameworkError(f"{g}: value {name!r} has no TensorType")
    for name, array in graph.constants.items():
        declared = graph.types[name]
        if (tuple(array.shape), str(array.dtype)) != (declared.shape, declared.dtype):
            raise FrameworkError(f"{g}: constant {name!r} holds {TensorType.of(array)} but is "
                                 f"typed {declared}")
    for node in topological(graph):
        where = f"node {node.name!r} ({node.op})"
        inferred = infer_types(node.op, [graph.types[i] for i in node.inputs], node.attrs, where)
        if len(inferred) != len(node.outputs):
            raise FrameworkError(f"{where}: has {len(node.outputs)} outputs, the op produces "
                                 f"{len(inferred)}")
        for out, t in zip(node.outputs, inferred, strict=True):
            declared = graph.types[out]
            if (declared.shape, declared.dtype) != (t.shape, t.dtype):
                raise FrameworkError(f"{where}: output {out!r} is typed {declared} but the "
                                     f"shape rule gives {t}")
    for out in graph.outputs:
        if out not in defined:
            raise FrameworkError(f"{g}: output {out!r} is not defined")
    return graph
