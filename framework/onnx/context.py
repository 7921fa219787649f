"""`ImportContext`: what an ONNX op converter sees while one node is converted.

A converter turns one ONNX `NodeProto` into zero or more IR nodes through the context's
`GraphBuilder` (``ctx.b``). Every ONNX value is either an IR value of the builder or a *known
constant* (an initializer, a Constant node, or the folded result of a node whose inputs were all
constant). Constants stay NumPy arrays until a converter asks for them as IR operands
(`ImportContext.input`), so shape arithmetic (Shape -> Gather -> Concat -> Reshape) never has to
enter the graph: the converters read it with `ImportContext.const`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..builder import GraphBuilder
from ..errors import FrameworkError

#: ONNX TensorProto element type -> IR dtype name (the dtypes attrs.DTYPES can hold)
ONNX_DTYPES: Mapping[int, str] = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.DOUBLE: "float64",
    onnx.TensorProto.FLOAT16: "float16",
    onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.INT16: "int16",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.BOOL: "bool",
}


def onnx_dtype(elem_type: int, where: str) -> str:
    """The IR dtype for an ONNX element type, or FrameworkError naming ``where``."""
    try:
        return ONNX_DTYPES[elem_type]
    except KeyError:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in \
            onnx.TensorProto.DataType.values() else str(elem_type)
        raise FrameworkError(f"{where}: element type {name} is not supported "
                             f"(supported: {sorted(set(ONNX_DTYPES.values()))})") from None


def tensor_to_array(tensor: onnx.TensorProto, where: str) -> np.ndarray:
    """A read-only NumPy array of an ONNX tensor in an IR dtype."""
    dtype = onnx_dtype(tensor.data_type, where)
    try:
        array = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 -- any decoding failure is a malformed model
        raise FrameworkError(f"{where}: cannot decode tensor {tensor.name!r}: {exc}") from None
    array = np.asarray(array, dtype=dtype)
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Attrs:
    """Typed access to an ONNX node's attributes with defaults."""

    values: Mapping[str, Any]

    @staticmethod
    def of(node: onnx.NodeProto) -> Attrs:
        """Decode every attribute of ``node`` (tensors become NumPy arrays)."""
        values: dict[str, Any] = {}
        for a in node.attribute:
            value = helper.get_attribute_value(a)
            if isinstance(value, onnx.TensorProto):
                value = tensor_to_array(value, f"attribute {a.name!r}")
            elif isinstance(value, bytes):
                value = value.decode()
            values[a.name] = value
        return Attrs(values)

    def get(self, name: str, default: Any = None) -> Any:
        """The attribute value or ``default``."""
        return self.values.get(name, default)

    def ints(self, name: str, default: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
        """An INTS attribute as a tuple of ints (``default`` if absent)."""
        value = self.values.get(name)
        return default if value is None else tuple(int(v) for v in value)

    def __contains__(self, name: str) -> bool:
        return name in self.values


class ImportContext:
    """Conversion state for one ONNX graph: the builder, value map and known constants.

    ``opset`` is the model's version of the default ONNX domain; converters use it only where
    an op's semantics changed between versions (e.g. Softmax at opset 13).
    """

    def __init__(self, builder: GraphBuilder, opset: int, source: str) -> None:
        self.b = builder
        self.opset = opset
        self.source = source
        self._values: dict[str, str] = {}
        self._consts: dict[str, np.ndarray] = {}
        self.node: onnx.NodeProto = onnx.NodeProto()
        self.attrs = Attrs({})

    # ----- registration ---------------------------------------------------------------------

    def define(self, onnx_name: str, ir_value: str) -> None:
        """Map an ONNX value to an IR value of the builder."""
        self._values[onnx_name] = ir_value

    def define_const(self, onnx_name: str, array: np.ndarray) -> None:
        """Record an ONNX value as a known constant."""
        self._consts[onnx_name] = array

    def is_known(self, onnx_name: str) -> bool:
        """True when the ONNX value is defined (as an IR value or a constant)."""
        return onnx_name in self._values or onnx_name in self._consts

    def known_const(self, onnx_name: str) -> np.ndarray | None:
        """The constant array of an ONNX value, or None if it is not constant."""
        return self._consts.get(onnx_name)

    def value(self, onnx_name: str) -> str:
        """The IR value of an ONNX value, adding a builder constant for a known constant."""
        if onnx_name not in self._values:
            if onnx_name not in self._consts:
                raise self.error(f"input {onnx_name!r} is not defined by an earlier node, an "
                                 f"initializer or a graph input")
            self._values[onnx_name] = self.b.constant(self._consts[onnx_name],
                                                      self._const_name(onnx_name))
        return self._values[onnx_name]

    def _const_name(self, onnx_name: str) -> str | None:
        return onnx_name if self.is_free(onnx_name) else None

    def is_free(self, name: str) -> bool:
        """True when ``name`` can name a new IR value and node in the builder."""
        # GraphBuilder has no public "is this name taken" query; its two name sets are read
        # here only (values and nodes share a namespace for single-output nodes).
        return bool(name) and name not in self.b._types and name not in self.b._node_names

    # ----- per-node access ------------------------------------------------------------------

    def start(self, node: onnx.NodeProto) -> None:
        """Make ``node`` the node being converted."""
        self.node = node
        self.attrs = Attrs.of(node)

    def has(self, i: int) -> bool:
        """True when optional input ``i`` is present (ONNX marks omitted inputs with '')."""
        return i < len(self.node.input) and self.node.input[i] != ""

    def input(self, i: int) -> str:
        """Input ``i`` as an IR value."""
        if not self.has(i):
            raise self.error(f"input {i} is required")
        return self.value(self.node.input[i])

    def inputs(self) -> list[str]:
        """All present inputs as IR values."""
        return [self.input(i) for i in range(len(self.node.input)) if self.has(i)]

    def const(self, i: int, what: str) -> np.ndarray:
        """Input ``i`` as a constant array, or FrameworkError saying it must be constant."""
        if not self.has(i):
            raise self.error(f"{what} (input {i}) is required")
        array = self.known_const(self.node.input[i])
        if array is None:
            raise self.error(f"{what} (input {self.node.input[i]!r}) must be a constant or "
                             f"computable from constants and shapes at import time")
        return array

    def ints_input_or_attr(self, i: int, attr: str, what: str) -> tuple[int, ...] | None:
        """Integer list from input ``i`` (newer opsets) or attribute ``attr`` (older ones)."""
        if self.has(i):
            return tuple(int(v) for v in self.const(i, what).reshape(-1))
        return self.attrs.ints(attr)

    def shape(self, i: int) -> tuple[int, ...]:
        """Static shape of input ``i``."""
        name = self.node.input[i]
        array = self.known_const(name)
        return tuple(array.shape) if array is not None else self.b.shape(self.value(name))

    def dtype(self, i: int) -> str:
        """dtype of input ``i``."""
        name = self.node.input[i]
        array = self.known_const(name)
        return str(array.dtype) if array is not None else self.b.dtype(self.value(name))

    def out_name(self, k: int = 0) -> str | None:
        """ONNX name of output ``k`` when it is free in the builder (so IR names follow ONNX)."""
        if k >= len(self.node.output):
            return None
        name = self.node.output[k]
        return name if self.is_free(name) else None

    def error(self, message: str) -> FrameworkError:
        """A FrameworkError naming the source file, the node and its op type."""
        return FrameworkError(f"{self.source}: {describe(self.node)}: {message}")


def node_label(node: onnx.NodeProto) -> str:
    """``node 'name'``; an unnamed node is named by its first output."""
    if node.name:
        return f"node {node.name!r}"
    return f"node producing {node.output[0]!r}" if node.output else "unnamed node"


def describe(node: onnx.NodeProto) -> str:
    """``node 'name' (OpType)``."""
    return f"{node_label(node)} ({node.op_type})"


Result = str | np.ndarray
"""What a converter gives for one ONNX output: an IR value name, or a NumPy array when the
value is known at import (Shape, Constant, ...)."""

Converter = Callable[["ImportContext"], Result | Sequence[Result]]
"""One ONNX op type -> IR: reads ``ctx.node`` / ``ctx.attrs`` and returns the result of each
ONNX output (a bare result for a single output)."""
