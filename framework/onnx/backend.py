"""The ONNX backend API (`onnx.backend.base`) over the reference interpreter.

``prepare(model)`` imports the model with `framework.onnx.load` and returns a `FrameworkRep`
whose ``run(inputs)`` evaluates it with `framework.interpret`, so the onnx package's own backend
test runner (``onnx.backend.test.BackendTest(FrameworkBackend, __name__)``) can drive it. Only
the "CPU" device exists.

Graphs have static shapes, so a model with symbolic input dims is imported with those dims set
to 1 at ``prepare``; ``run`` re-imports it for the shapes of the inputs it actually gets (cached
per input signature).
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
from .importer import load

Signature = tuple[tuple[str, tuple[int, ...]], ...]


class FrameworkRep(BackendRep):
    """A prepared model: the imported Graph plus the ModelProto to re-import other shapes."""

    def __init__(self, model: onnx.ModelProto, graph: Graph) -> None:
        self.model = model
        self.graph = graph
        self._graphs: dict[Signature, Graph] = {self._signature_of(graph): graph}

    @staticmethod
    def _signature_of(graph: Graph) -> Signature:
        return tuple((name, graph.types[name].shape) for name in graph.inputs)

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        names = self.graph.inputs
        if isinstance(inputs, Mapping):
            return {name: np.asarray(value) for name, value in inputs.items()}
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        values = list(inputs)
        if len(values) != len(names):
            raise FrameworkError(f"model {self.graph.name!r} takes {len(names)} inputs "
                                 f"{list(names)}, got {len(values)}")
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}

    def _graph_for(self, feeds: Mapping[str, np.ndarray]) -> Graph:
        signature = tuple((name, tuple(feeds[name].shape)) for name in self.graph.inputs
                          if name in feeds)
        if signature not in self._graphs:
            shapes = {name: shape for name, shape in signature}
            self._graphs[signature] = load(self.model, input_shapes=shapes, check=False)
        return self._graphs[signature]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Evaluate on ``inputs`` (a sequence in graph-input order, a mapping, or one array);
        returns the outputs in model order as a named tuple."""
        feeds = self._feeds(inputs)
        graph = self._graph_for(feeds)
        results = interpret(graph, feeds)
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
        return FrameworkRep(model, load(model))

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
        return FrameworkRep(model, load(model, check=False)).run(feeds)

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
