"""`GraphBuilder`: the pleasant way to make a Graph, one method per op.

Every method infers the output types through SHAPE_RULES as the node is added, so a shape error
surfaces at the line that caused it, naming the node. Values are plain strings (value names).
Binary ops accept Python numbers for either operand (they become scalar constants of the other
operand's dtype). The per-op methods live in the `_OpsMixin` (builder_ops.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .attrs import DTYPES
from .builder_ops import OpsMixin
from .errors import FrameworkError
from .ir import Graph, Node, TensorType
from .ops import OpCode
from .shapes import infer_types


class GraphBuilder(OpsMixin):
    """Accumulates inputs, constants and nodes, then `build()`s an immutable Graph.

    Names are unique across values and nodes; generated names are ``<op>_<n>``. Pass ``name=`` to
    any op method to name the node and its (first) output explicitly.
    """

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self._nodes: list[Node] = []
        self._constants: dict[str, np.ndarray] = {}
        self._types: dict[str, TensorType] = {}
        self._node_names: set[str] = set()
        self._counter = 0
        self._scalar_cache: dict[tuple[str, str], str] = {}

    @classmethod
    def from_graph(cls, graph: Graph, keep_outputs: bool = True) -> GraphBuilder:
        """A builder holding a copy of ``graph`` (to extend it, e.g. with a backward pass)."""
        b = cls(graph.name)
        b._inputs = list(graph.inputs)
        b._outputs = list(graph.outputs) if keep_outputs else []
        b._nodes = list(graph.nodes)
        b._constants = dict(graph.constants)
        b._types = dict(graph.types)
        b._node_names = {n.name for n in graph.nodes}
        return b

    # ----- values ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        """A value/node name not used yet, ``prefix_<n>``."""
        while True:
            self._counter += 1
            name = f"{prefix}_{self._counter}"
            if name not in self._types and name not in self._node_names:
                return name

    def _claim(self, name: str, what: str) -> str:
        if name in self._types:
            raise FrameworkError(f"graph {self.name!r}: {what} name {name!r} is already used")
        return name

    def input(self, name: str, shape: Sequence[int], dtype: str = "float32") -> str:
        """Declare a graph input and return its value name."""
        self._types[self._claim(name, "input")] = TensorType(tuple(shape), dtype)
        self._inputs.append(name)
        return name

    def constant(self, value: Any, name: str | None = None, dtype: str | None = None) -> str:
        """Add a constant (weight / initializer) and return its value name."""
        array = np.array(value, dtype=dtype) if dtype else np.array(value)
        if str(array.dtype) not in DTYPES:
            array = array.astype(np.float32 if array.dtype.kind == "f" else np.int64)
        name = self._claim(name or self.fresh("const"), "constant")
        array.flags.writeable = False  # np.array copied it: Graph() can share it without copying
        self._constants[name] = array
        self._types[name] = TensorType.of(array)
        return name

    def scalar(self, value: float, dtype: str = "float32") -> str:
        """A shape-() constant, shared between uses of the same value and dtype."""
        key = (repr(float(value)) if dtype != "bool" else repr(bool(value)), dtype)
        if key not in self._scalar_cache:
            self._scalar_cache[key] = self.constant(np.array(value, dtype=dtype),
                                                    self.fresh("scalar"))
        return self._scalar_cache[key]

    def type_of(self, value: str) -> TensorType:
        """The TensorType of a value defined so far."""
        try:
            return self._types[value]
        except KeyError:
            raise FrameworkError(f"graph {self.name!r}: unknown value {value!r}") from None

    def shape(self, value: str) -> tuple[int, ...]:
        """Shape of a value defined so far."""
        return self.type_of(value).shape

    def dtype(self, value: str) -> str:
        """dtype of a value defined so far."""
        return self.type_of(value).dtype

    def is_constant(self, value: str) -> bool:
        """True if ``value`` is a constant of this graph."""
        return value in self._constants

    def constant_value(self, value: str) -> np.ndarray:
        """The array of a constant."""
        return self._constants[value]

    def _operand(self, v: str | float | int | bool, like: str | float | int | bool) -> str:
        if isinstance(v, str):
            return v
        if not isinstance(like, str):
            raise FrameworkError("at least one operand must be a graph value")
        return self.scalar(v, self.dtype(like))

    # ----- nodes ----------------------------------------------------------------------------

    def node(self, op: OpCode, inputs: Iterable[str], attrs: Any = None,
             outputs: Sequence[str] | None = None, name: str | None = None) -> tuple[str, ...]:
        """Add a node of any op, inferring output types; returns its output names.

        Output names default to ``name`` (one output) or ``name:i``; the node name defaults to
        a fresh ``<op>_<n>``.
        """
        inputs = tuple(inputs)
        node_name = name or self.fresh(op.value)
        if node_name in self._node_names:
            raise FrameworkError(f"graph {self.name!r}: node name {node_name!r} is already used")
        where = f"node {node_name!r} ({op})"
        for v in inputs:
            if v not in self._types:
                raise FrameworkError(f"{where}: input {v!r} is not defined")
        # Node() validates arity and attrs type before the shape rule sees them.
        probe = Node(op, inputs, ("?",), attrs, node_name)
        out_types = infer_types(op, [self._types[v] for v in inputs], probe.attrs, where)
        if outputs is None:
            base = name or node_name
            n = len(out_types)
            outputs = [base] if n == 1 else [f"{base}:{i}" for i in range(n)]
        if len(outputs) != len(out_types):
            raise FrameworkError(f"{where}: produces {len(out_types)} outputs, "
                                 f"{len(outputs)} names given")
        for out, t in zip(outputs, out_types, strict=True):
            self._types[self._claim(out, "output")] = t
        self._nodes.append(probe.replace(outputs=tuple(outputs)))
        self._node_names.add(node_name)
        return tuple(outputs)

    def _one(self, op: OpCode, inputs: Iterable[str], attrs: Any = None,
             name: str | None = None) -> str:
        return self.node(op, inputs, attrs, name=name)[0]

    # ----- finishing ------------------------------------------------------------------------

    def output(self, *values: str) -> None:
        """Mark values as graph outputs (in order)."""
        for v in values:
            self.type_of(v)
            self._outputs.append(v)

    def set_outputs(self, values: Sequence[str]) -> None:
        """Replace the output list."""
        self._outputs = []
        self.output(*values)

    def build(self, verify: bool = True, prune: bool = False) -> Graph:
        """The immutable Graph; ``prune`` drops nodes and constants no output depends on."""
        nodes, constants = self._nodes, self._constants
        if prune:
            needed = set(self._outputs)
            kept = []
            for node in reversed(nodes):
                if needed.intersection(node.outputs):
                    kept.append(node)
                    needed.update(node.inputs)
            nodes = kept[::-1]
            constants = {k: v for k, v in constants.items() if k in needed}
        used = set(self._inputs) | set(constants) | {o for n in nodes for o in n.outputs}
        types = {k: t for k, t in self._types.items() if k in used}
        graph = Graph(tuple(self._inputs), tuple(self._outputs), tuple(nodes), constants, types,
                      self.name)
        if verify:
            from .verify import verify_graph

            verify_graph(graph)
        return graph
