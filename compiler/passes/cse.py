"""Common-subexpression elimination: one node per (op, attrs, inputs), one copy of each small
constant."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from framework import Graph

from .dead_code import eliminate_dead_code

SMALL_CONSTANT_ELEMENTS = 4096
"""Constants up to this size are deduplicated by content (hashing large weights costs more
time than two identical large weights ever save)."""


def _constant_key(array: np.ndarray) -> Hashable:
    return (str(array.dtype), array.shape, array.tobytes())


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Replace every node that repeats an earlier node's op, attrs and (renamed) inputs by the
    earlier node's outputs, and every small constant by the first equal one.

    Nodes whose outputs are graph outputs are kept (their names are the interface), as are
    nodes with unhashable attributes. Nodes must be in topological order (as GraphBuilder and
    shape inference leave them). The duplicates, now dead, are removed.
    """
    rename: dict[str, str] = {}
    first_constant: dict[Hashable, str] = {}
    outputs = set(graph.outputs)
    for name, array in graph.constants.items():
        if array.size <= SMALL_CONSTANT_ELEMENTS and name not in outputs:
            rename[name] = first_constant.setdefault(_constant_key(array), name)
    seen: dict[Hashable, tuple[str, ...]] = {}
    nodes = []
    for node in graph.nodes:
        node = node.replace(inputs=tuple(rename.get(v, v) for v in node.inputs))
        nodes.append(node)
        key = (node.op, node.attrs, node.inputs)
        try:
            earlier = seen.setdefault(key, node.outputs)
        except TypeError:  # attrs holding unhashable values are never merged
            continue
        if earlier is not node.outputs and not outputs.intersection(node.outputs):
            rename.update(zip(node.outputs, earlier, strict=True))
    return eliminate_dead_code(graph.replace(nodes=tuple(nodes)))
