"""`trace(module, example_inputs) -> Graph`: run ``forward`` once symbolically, recording each op.

Tracing is abstract interpretation: inputs are symbolic Tensors (type and value name, no data),
every op adds a node through a GraphBuilder (so shapes are checked at the line that made them),
and no arithmetic is done, which keeps building full-size models fast. Parameters and buffers
become graph constants named by their module path ("layer1.0.conv1.weight"); nodes are named
by the module that ran them ("layer1.0.conv1.conv2d"). Any other Tensor with data that meets a
traced value (a mask made in ``forward``, a Python scalar) becomes a constant as well.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .builder import GraphBuilder
from .errors import FrameworkError
from .ir import Graph, TensorType
from .ops import OpCode
from .tensor import TRACING, Tensor
from .verify import verify_graph


class Tracer:
    """Records ops into a GraphBuilder while a ``trace`` is active.

    Keeps every Tensor it lifted alive so the ``id`` keys of its tables stay unique.
    """

    def __init__(self, builder: GraphBuilder, param_names: Mapping[int, str],
                 module_paths: Mapping[int, str]) -> None:
        self.builder = builder
        self._param_names = dict(param_names)
        self._module_paths = dict(module_paths)
        self._lifted: dict[int, str] = {}
        self._scalars: dict[tuple[str, str], str] = {}
        self._alive: list[Tensor] = []
        self._used: set[str] = set()
        self._scopes: list[str] = []

    def reserve(self, names: Iterable[str]) -> None:
        """Mark ``names`` (parameter paths) as taken, so no generated name collides."""
        self._used.update(names)

    def unique(self, base: str) -> str:
        """``base``, or ``base_<n>`` for the first n that is not used yet; marks it used."""
        name, n = base, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    def input(self, name: str, type_: TensorType) -> Tensor:
        """Declare a graph input and return its symbolic Tensor."""
        if name in self._used:
            raise FrameworkError(f"trace: input name {name!r} is used twice")
        self._used.add(name)
        self.builder.input(name, type_.shape, type_.dtype)
        return Tensor.symbolic(type_, self, name)

    def value_of(self, t: Tensor) -> str:
        """The graph value name of ``t``, lifting it into the graph as a constant if needed."""
        if t._tracer is self:
            return t._name  # type: ignore[return-value]
        if t._data is None:
            raise FrameworkError(f"trace: tensor {t._name!r} belongs to another trace")
        key = id(t)
        if key in self._lifted:
            return self._lifted[key]
        if key not in self._param_names and t._data.ndim == 0:
            skey = (t.dtype, repr(t._data.item()))
            if skey not in self._scalars:
                self._scalars[skey] = self.builder.constant(t._data, self.unique("scalar"))
            return self._scalars[skey]
        name = self._param_names.get(key) or self.unique(self._scoped("const"))
        self._used.add(name)
        self.builder.constant(t._data, name)
        self._lifted[key] = name
        self._alive.append(t)
        return name

    def _scoped(self, base: str) -> str:
        return f"{self._scopes[-1]}.{base}" if self._scopes and self._scopes[-1] else base

    def record(self, op: OpCode, inputs: Sequence[Tensor], attrs: Any) -> tuple[Tensor, ...]:
        """Add one node for ``op`` and return symbolic Tensors for its outputs."""
        names = [self.value_of(t) for t in inputs]
        node_name = self.unique(self._scoped(op.value))
        outs = self.builder.node(op, names, attrs, name=node_name)
        self._used.update(outs)
        return tuple(Tensor.symbolic(self.builder.type_of(o), self, o) for o in outs)

    @contextlib.contextmanager
    def scope(self, module: object) -> Iterator[None]:
        """Name the nodes recorded inside ``module``'s forward after its path."""
        path = self._module_paths.get(id(module))
        if path is None:
            path = self._scoped(type(module).__name__.lower())
        self._scopes.append(path)
        try:
            yield
        finally:
            self._scopes.pop()


ExampleInput = Tensor | np.ndarray | TensorType


def _input_type(example: Any, name: str) -> TensorType:
    if isinstance(example, TensorType):
        return example
    if isinstance(example, Tensor):
        return example.type
    if isinstance(example, np.ndarray):
        return TensorType.of(example)
    raise FrameworkError(f"trace: example input {name!r} must be a Tensor, ndarray or "
                         f"TensorType, got {type(example).__name__}")


def _flatten_outputs(result: Any) -> list[tuple[str | None, Tensor]]:
    if isinstance(result, Tensor):
        return [(None, result)]
    if isinstance(result, Mapping):
        return [(str(k), v) for k, v in result.items()]
    if isinstance(result, Sequence):
        return [(None, v) for v in result]
    raise FrameworkError(f"trace: forward returned {type(result).__name__}; expected a Tensor, "
                         "a sequence or a mapping of Tensors")


def _rename(graph: Graph, renames: Mapping[str, str]) -> Graph:
    """``graph`` with node-output values renamed (the graph outputs get readable names)."""
    if not renames:
        return graph
    def r(v: str) -> str:
        return renames.get(v, v)
    nodes = tuple(n.replace(inputs=tuple(map(r, n.inputs)), outputs=tuple(map(r, n.outputs)))
                  for n in graph.nodes)
    types = {r(k): t for k, t in graph.types.items()}
    return graph.replace(nodes=nodes, types=types, outputs=tuple(map(r, graph.outputs)))


def trace(module: Callable[..., Any], example_inputs: Any, name: str | None = None,
          input_names: Sequence[str] | None = None,
          output_names: Sequence[str] | None = None) -> Graph:
    """Trace ``module(*inputs)`` (or ``module(**inputs)`` for a mapping) into a verified Graph.

    ``example_inputs`` gives each input's type (a Tensor, an ndarray or a TensorType; one value
    or a sequence, or a mapping whose keys become input names and keyword arguments). Only
    types are used: no arithmetic happens while tracing. Input names default to "input" (one
    input) or "input_<i>"; output names to the keys of a returned mapping, else "output" or
    "output_<i>" (``output_names`` overrides). A module with ``named_parameters()`` gets its
    parameters and buffers named by path. The module's forward must not branch on tensor values.
    """
    if isinstance(example_inputs, Mapping):
        keyed = list(example_inputs.items())
    else:
        items = ([example_inputs] if isinstance(example_inputs, Tensor | np.ndarray | TensorType)
                 else list(example_inputs))
        names = list(input_names) if input_names else (
            ["input"] if len(items) == 1 else [f"input_{i}" for i in range(len(items))])
        if len(names) != len(items):
            raise FrameworkError(f"trace: {len(items)} example inputs but {len(names)} names")
        keyed = list(zip(names, items, strict=True))
    graph_name = name or type(module).__name__.lower()
    builder = GraphBuilder(graph_name)
    params: dict[int, str] = {}
    for attr in ("named_parameters", "named_buffers"):
        if hasattr(module, attr):
            params.update({id(p): n for n, p in getattr(module, attr)()})
    paths = ({id(m): p for p, m in module.named_modules()}
             if hasattr(module, "named_modules") else {})
    tracer = Tracer(builder, params, paths)
    tracer.reserve(params.values())
    inputs = {n: tracer.input(n, _input_type(x, n)) for n, x in keyed}
    token = TRACING.set(tracer)
    try:
        if isinstance(example_inputs, Mapping):
            result = module(**inputs)
        else:
            result = module(*inputs.values())
    finally:
        TRACING.reset(token)
    outs = _flatten_outputs(result)
    if output_names is not None:
        if len(output_names) != len(outs):
            raise FrameworkError(f"trace: forward returned {len(outs)} outputs but "
                                 f"{len(output_names)} output names were given")
        outs = [(n, t) for n, (_, t) in zip(output_names, outs, strict=True)]
    elif all(key is None for key, _ in outs):
        default = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
        outs = [(n, t) for n, (_, t) in zip(default, outs, strict=True)]
    renames: dict[str, str] = {}
    values = []
    for out_name, t in outs:
        if not isinstance(t, Tensor):
            raise FrameworkError(f"trace: output {out_name!r} is not a Tensor")
        value = tracer.value_of(t)
        produced = not builder.is_constant(value) and value not in inputs \
            and value not in renames
        if produced and out_name is not None:
            renames[value] = tracer.unique(out_name)
        elif out_name is not None and out_name != value:
            # an input, a constant or a value already exported: copy it under the new name
            value = builder.identity(value, name=tracer.unique(out_name))
        values.append(value)
    builder.set_outputs(values)
    return verify_graph(_rename(builder.build(verify=False, prune=True), renames))
