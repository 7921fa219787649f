"""The ONNX backend API (`onnx.backend.base`) over the reference interpreter.

``prepare(model)`` imports the model with `framework.onnx.load` and returns a `FrameworkRep`
whose ``run(inputs)`` evaluates it with `framework.interpret`, so the onnx package's own backend
test runner (``onnx.backend.test.BackendTest(FrameworkBackend, __name__)``) can drive it. Only
the "CPU" device exists.

Graphs have static shapes, so a model with symbolic input dims is imported with those dims set
to 1 at ``prepare``; ``run`` re-imports it for the shapes of the inputs it actually gets (cached
per input signature). A model that feeds shape parameters as graph inputs (common in onnx's
node-level test cases) is imported at ``run`` with its integer and scalar inputs bound to their
values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from ..errors import FrameworkError
from ..interpreter import interpret
from ..ir import Graph
from .importer import check_model, load, unsupported_ops

Key = tuple[tuple[str, tuple[int, ...]], ...]


def _inputs_of(model: onnx.ModelProto) -> tuple[str, ...]:
    """The model's real inputs (graph inputs that are not initializers), in order."""
    initializers = {t.name for t in model.graph.initializer}
    return tuple(v.name for v in model.graph.input if v.name not in initializers)


def _parameter_inputs(model: onnx.ModelProto) -> tuple[str, ...]:
    """Inputs that may be op parameters: integer tensors (shapes, axes, pads, indices) and
    scalars (Pad's constant_value, Range bounds)."""
    ints = {onnx.TensorProto.INT32, onnx.TensorProto.INT64}
    real = set(_inputs_of(model))

    def is_parameter(v: onnx.ValueInfoProto) -> bool:
        t = v.type.tensor_type
        dims = [d.dim_value for d in t.shape.dim] if t.HasField("shape") else None
        scalar = dims is not None and all(d == 1 for d in dims) and len(dims) <= 1
        return t.elem_type in ints or scalar

    return tuple(v.name for v in model.graph.input if v.name in real and is_parameter(v))


class FrameworkRep(BackendRep):
    """A prepared model: its Graph per input signature, re-imported from the ModelProto when
    inputs come with other shapes.

    ``bind`` names inputs whose *values* the import needs (a model that feeds op parameters,
    e.g. a Reshape target, Slice starts or a Pad value, as graph inputs): they are bound as
    constants at each run, and the graph is cached per bound value.
    """

    def __init__(self, model: onnx.ModelProto, graph: Graph | None,
                 bind: tuple[str, ...] = ()) -> None:
        self.model = model
        self.graph = graph
        self.input_names = _inputs_of(model)
        self.bind = bind
        self._graphs: dict[tuple[Key, tuple[Any, ...]], Graph] = {}
        if graph is not None:
            key = tuple((name, graph.types[name].shape) for name in graph.inputs)
            self._graphs[(key, ())] = graph

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        names = self.input_names
        if isinstance(inputs, Mapping):
            return {name: np.asarray(value) for name, value in inputs.items()}
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        values = list(inputs)
        if len(values) != len(names):
            raise FrameworkError(f"model {self.model.graph.name!r} takes {len(names)} inputs "
                                 f"{list(names)}, got {len(values)}")
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}

    def _graph_for(self, free: Mapping[str, np.ndarray],
                   bound: Mapping[str, np.ndarray]) -> Graph:
        shapes = tuple((name, tuple(free[name].shape)) for name in self.input_names
                       if name in free)
        values = tuple((name, str(v.dtype), v.shape, v.tobytes()) for name, v in bound.items())
        if (shapes, values) not in self._graphs:
            self._graphs[(shapes, values)] = load(self.model, input_shapes=dict(shapes),
                                                  check=False, bind=bound)
        return self._graphs[(shapes, values)]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Evaluate on ``inputs`` (a sequence in graph-input order, a mapping, or one array);
        returns the outputs in model order as a named tuple."""
        feeds = self._feeds(inputs)
        bound = {name: feeds[name] for name in self.bind if name in feeds}
        free = {name: value for name, value in feeds.items() if name not in bound}
        graph = self._graph_for(free, bound)
        results = interpret(graph, free)
        names = list(graph.outputs)
        return namedtupledict("Outputs", names)(*[results[name] for name in names])


class FrameworkBackend(Backend):
    """onnx.backend.base.Backend implemented by `framework.onnx.load` + `framework.interpret`."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU",
                **kwargs: Any) -> FrameworkRep:
        """Check and import ``model``; FrameworkError if it cannot be imported."""
        if not cls.supports_device(device):
            raise FrameworkError(f"device {device!r} is not supported (only 'CPU')")
        source = f"model {model.graph.name or '<unnamed>'!r}"
        check_model(model, source)
        missing = unsupported_ops(model.graph)
        if missing:
            raise FrameworkError(f"{source}: unsupported ONNX ops: {', '.join(missing)}")
        try:
            return FrameworkRep(model, load(model, check=False))
        except FrameworkError:
            bind = _parameter_inputs(model)
            if not bind:
                raise
            # maybe op parameters fed as inputs: import again at run time with those inputs
            # bound to their values (a genuine error is raised again there)
            return FrameworkRep(model, None, bind)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple[Any, ...]:
        """prepare + run in one call."""
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> tuple[Any, ...]:
        """Run one node on ``inputs`` (a sequence matching the node's inputs)."""
        values = list(inputs.values()) if isinstance(inputs, Mapping) else list(inputs)
        names = [name for name in node.input if name]
        graph_inputs = [onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v))
            for name, v in zip(names, values, strict=True)]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(name)
                         for name in node.output if name]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
        feeds = dict(zip(names, values, strict=True))
        return FrameworkRep(model, None, _parameter_inputs(model)).run(feeds)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """Only the CPU."""
        try:
            return Device(device).type == DeviceType.CPU
        except AttributeError:
            return False


prepare = FrameworkBackend.prepare
run_model = FrameworkBackend.run_model
run_node = FrameworkBackend.run_node
supports_device = FrameworkBackend.supports_device
