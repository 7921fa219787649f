"""The graph IR: `TensorType`, `Node` and `Graph`, all immutable.

Values are edges named by strings. A Graph lists its inputs, outputs, nodes, constants (weights
and other initializers, as read-only NumPy arrays) and the `TensorType` of every value. Graphs
are edited by building new ones (`Graph.replace`, or `GraphBuilder.from_graph`).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .attrs import DTYPES, FLOAT_DTYPES
from .errors import FrameworkError
from .ops import OP_INFO, OpCode


@dataclass(frozen=True)
class TensorType:
    """Static type of a value: concrete shape, dtype name (see attrs.DTYPES) and layout tag.

    ``layout`` is "ND" (plain row-major) in framework graphs; the compiler may assign others
    (e.g. "NC1HWC0") when it rewrites graphs for a target.
    """

    shape: tuple[int, ...]
    dtype: str = "float32"
    layout: str = "ND"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if any(d < 0 for d in self.shape):
            raise FrameworkError(f"TensorType: negative dimension in shape {self.shape}")
        if self.dtype not in DTYPES:
            raise FrameworkError(f"TensorType: unknown dtype {self.dtype!r} (known: {DTYPES})")

    @property
    def rank(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Storage size in bytes."""
        return self.numel * np.dtype(self.dtype).itemsize

    @property
    def is_float(self) -> bool:
        """True for floating-point dtypes (the differentiable ones)."""
        return self.dtype in FLOAT_DTYPES

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        """Same dtype and layout, new shape."""
        return dataclasses.replace(self, shape=tuple(shape))

    def with_dtype(self, dtype: str) -> TensorType:
        """Same shape and layout, new dtype."""
        return dataclasses.replace(self, dtype=dtype)

    def __str__(self) -> str:
        dims = ",".join(str(d) for d in self.shape)
        suffix = "" if self.layout == "ND" else f"@{self.layout}"
        return f"{self.dtype}[{dims}]{suffix}"

    @staticmethod
    def of(array: np.ndarray) -> TensorType:
        """The type of a NumPy array."""
        return TensorType(tuple(array.shape), str(array.dtype))


@dataclass(frozen=True)
class Node:
    """One operation: ``outputs = op(inputs; attrs)``. Inputs and outputs are value names.

    The attrs record type and the input count are checked against ops.OP_INFO at construction.
    """

    op: OpCode
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Any = None
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if not self.name:
            object.__setattr__(self, "name", self.outputs[0] if self.outputs else str(self.op))
        info = OP_INFO[self.op]
        where = f"node {self.name!r} ({self.op})"
        if not info.min_inputs <= len(self.inputs) <= info.max_inputs:
            raise FrameworkError(
                f"{where}: takes {info.min_inputs}..{info.max_inputs} inputs, "
                f"got {len(self.inputs)}")
        if info.attrs is None and self.attrs is not None:
            raise FrameworkError(f"{where}: takes no attributes, got {self.attrs!r}")
        if info.attrs is not None and not isinstance(self.attrs, info.attrs):
            raise FrameworkError(
                f"{where}: attrs must be {info.attrs.__name__}, got {type(self.attrs).__name__}")
        if not self.outputs:
            raise FrameworkError(f"{where}: has no outputs")

    def replace(self, **changes: Any) -> Node:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)


def _frozen_array(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.copy()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable dataflow graph.

    Invariants (checked by `verify`): value names are unique; every node input is a graph input,
    a constant or an earlier node's output; every value has a TensorType that agrees with the
    shape rules. ``nodes`` are kept in a topological order by GraphBuilder, but `topological`
    does not rely on it.
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)
    types: Mapping[str, TensorType] = field(default_factory=dict)
    name: str = "graph"

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        consts = {k: _frozen_array(v) for k, v in self.constants.items()}
        object.__setattr__(self, "constants", MappingProxyType(consts))
        object.__setattr__(self, "types", MappingProxyType(dict(self.types)))

    def replace(self, **changes: Any) -> Graph:
        """A copy with the given fields changed (unchanged arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def type_of(self, value: str) -> TensorType:
        """The TensorType of a value, or FrameworkError naming it."""
        try:
            return self.types[value]
        except KeyError:
            raise FrameworkError(f"graph {self.name!r}: no type for value {value!r}") from None

    def producers(self) -> dict[str, Node]:
        """Map value name -> the node that produces it."""
        return {out: node for node in self.nodes for out in node.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        """Map value name -> nodes that read it (in node order)."""
        users: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                users.setdefault(name, []).append(node)
        return users

    def node(self, name: str) -> Node:
        """The node with this name, or FrameworkError."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise FrameworkError(f"graph {self.name!r}: no node named {name!r}")

    def __str__(self) -> str:
        from .printer import format_graph

        return format_graph(self)

    def __repr__(self) -> str:
        return (f"Graph({self.name!r}, {len(self.inputs)} inputs, {len(self.nodes)} nodes, "
                f"{len(self.constants)} constants, outputs={list(self.outputs)})")


def topological(graph: Graph) -> Iterator[Node]:
    """Yield the graph's nodes so each comes after the producers of its inputs.

    Kahn's algorithm, stable with respect to the stored node order (a heap of node indices).
    Raises FrameworkError naming a node on a cycle, or a node whose input nothing defines.
    """
    defined = set(graph.inputs) | set(graph.constants)
    producers = graph.producers()
    pending: list[int] = []
    waiting: dict[str, list[int]] = {}
    ready: list[int] = []
    for index, node in enumerate(graph.nodes):
        deps = {i for i in node.inputs if i not in defined}
        for dep in deps:
            if dep not in producers:
                raise FrameworkError(
                    f"node {node.name!r} ({node.op}): input {dep!r} is not defined in the graph")
            waiting.setdefault(dep, []).append(index)
        pending.append(len(deps))
        if not deps:
            ready.append(index)
    heapq.heapify(ready)
    emitted = 0
    while ready:
        node = graph.nodes[heapq.heappop(ready)]
        emitted += 1
        yield node
        for out in node.outputs:
            for user in waiting.pop(out, []):
                pending[user] -= 1
                if pending[user] == 0:
                    heapq.heappush(ready, user)
    if emitted != len(graph.nodes):
        stuck = next(n for i, n in enumerate(graph.nodes) if pending[i] > 0)
        raise FrameworkError(f"node {stuck.name!r} ({stuck.op}) is on a cycle")
