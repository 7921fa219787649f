"""`CONVERTERS`: the one table from ONNX op type to converter, merged from the op families."""

from __future__ import annotations

from .context import Converter
from .convert_math import MATH_CONVERTERS
from .convert_nn import NN_CONVERTERS
from .convert_reduce import REDUCE_CONVERTERS
from .convert_shape import SHAPE_CONVERTERS

CONVERTERS: dict[str, Converter] = {
    **MATH_CONVERTERS,
    **NN_CONVERTERS,
    **REDUCE_CONVERTERS,
    **SHAPE_CONVERTERS,
}
"""ONNX op type (default domain) -> converter. An op type missing here is refused at import."""

SUPPORTED_OPS: frozenset[str] = frozenset(CONVERTERS)
"""The ONNX op types `framework.onnx.load` accepts."""
