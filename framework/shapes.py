"""Shape and dtype inference: SHAPE_RULES[op](input_types, attrs) -> output types.

Rules raise FrameworkError with a message about the operands; the builder and verifier prefix
it with the node's name. Families (unary elementwise, broadcasting binary, reductions) come from
small factories rather than copies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import attrs as A
from .errors import FrameworkError
from .fused import check_fused
from .ir import TensorType
from .ops import BINARY_ELEMENTWISE, COMPARISONS, UNARY_ELEMENTWISE, OpCode
from .shape_utils import broadcast_shapes, norm_axis, require_float, same_dtype
from .shapes_nn import NN_SHAPE_RULES

ShapeRule = Callable[[tuple[TensorType, ...], Any], tuple[TensorType, ...]]


def _unary(float_only: bool = True) -> ShapeRule:
    def rule(ts: tuple[TensorType, ...], _: Any) -> tuple[TensorType, ...]:
        if float_only:
            require_float(ts[0])
        return (ts[0],)
    return rule


def _binary(out_dtype: str | None = None) -> ShapeRule:
    def rule(ts: tuple[TensorType, ...], _: Any) -> tuple[TensorType, ...]:
        dtype = same_dtype(ts)
        return (TensorType(broadcast_shapes(ts[0].shape, ts[1].shape), out_dtype or dtype),)
    return rule


def _where(ts: tuple[TensorType, ...], _: Any) -> tuple[TensorType, ...]:
    cond, a, b = ts
    if cond.dtype != "bool":
        raise FrameworkError(f"where condition must be bool, got {cond.dtype}")
    dtype = same_dtype((a, b))
    return (TensorType(broadcast_shapes(cond.shape, a.shape, b.shape), dtype),)


def _cast(ts: tuple[TensorType, ...], at: A.CastAttrs) -> tuple[TensorType, ...]:
    return (ts[0].with_dtype(at.dtype),)


def reduced_axes(rank: int, axes: tuple[int, ...]) -> tuple[int, ...]:
    """Sorted non-negative reduction axes (all axes when ``axes`` is empty)."""
    return tuple(sorted({norm_axis(a, rank) for a in axes})) if axes else tuple(range(rank))


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    """Shape after reducing ``axes`` (already normalised)."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce(ts: tuple[TensorType, ...], at: A.ReduceAttrs) -> tuple[TensorType, ...]:
    axes = reduced_axes(ts[0].rank, at.axes)
    return (ts[0].with_shape(reduced_shape(ts[0].shape, axes, at.keepdims)),)


def _argmax(ts: tuple[TensorType, ...], at: A.ReduceAttrs) -> tuple[TensorType, ...]:
    if len(at.axes) != 1:
        raise FrameworkError(f"argmax needs exactly one axis, got {at.axes}")
    axes = reduced_axes(ts[0].rank, at.axes)
    return (TensorType(reduced_shape(ts[0].shape, axes, at.keepdims), "int64"),)


def _reshape(ts: tuple[TensorType, ...], at: A.ReshapeAttrs) -> tuple[TensorType, ...]:
    out = ts[0].with_shape(at.shape)
    if out.numel != ts[0].numel:
        raise FrameworkError(f"cannot reshape {ts[0].shape} ({ts[0].numel} elements) to {at.shape}")
    return (out,)


def _flatten(ts: tuple[TensorType, ...], at: A.FlattenAttrs) -> tuple[TensorType, ...]:
    shape = ts[0].shape
    axis = at.axis + len(shape) if at.axis < 0 else at.axis
    if not 0 <= axis <= len(shape):
        raise FrameworkError(f"flatten axis {at.axis} out of range for rank {len(shape)}")
    return (ts[0].with_shape((int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))),)


def _transpose(ts: tuple[TensorType, ...], at: A.TransposeAttrs) -> tuple[TensorType, ...]:
    if len(at.perm) != ts[0].rank:
        raise FrameworkError(f"perm {at.perm} does not match rank {ts[0].rank}")
    return (ts[0].with_shape(tuple(ts[0].shape[p] for p in at.perm)),)


def _concat(ts: tuple[TensorType, ...], at: A.AxisAttrs) -> tuple[TensorType, ...]:
    dtype = same_dtype(ts)
    rank = ts[0].rank
    axis = norm_axis(at.axis, rank)
    for t in ts:
        if t.rank != rank or any(t.shape[i] != ts[0].shape[i] for i in range(rank) if i != axis):
            raise FrameworkError(f"concat on axis {axis}: shapes {[t.shape for t in ts]} differ")
    shape = list(ts[0].shape)
    shape[axis] = sum(t.shape[axis] for t in ts)
    return (TensorType(tuple(shape), dtype),)


def _split(ts: tuple[TensorType, ...], at: A.SplitAttrs) -> tuple[TensorType, ...]:
    axis = norm_axis(at.axis, ts[0].rank)
    if sum(at.sizes) != ts[0].shape[axis]:
        raise FrameworkError(f"split sizes {at.sizes} do not sum to dim {ts[0].shape[axis]}")
    return tuple(ts[0].with_shape(ts[0].shape[:axis] + (s,) + ts[0].shape[axis + 1:])
                 for s in at.sizes)


def slice_ranges(shape: tuple[int, ...], at: A.SliceAttrs) -> tuple[slice, ...]:
    """Per-dimension Python slices for a SliceAttrs (ONNX clamping = Python slice semantics)."""
    index = [slice(None)] * len(shape)
    for start, end, axis, step in zip(at.starts, at.ends, at.axes, at.steps, strict=True):
        ax = norm_axis(axis, len(shape))
        index[ax] = slice(start, end, step)
    return tuple(index)


def _slice(ts: tuple[TensorType, ...], at: A.SliceAttrs) -> tuple[TensorType, ...]:
    shape = ts[0].shape
    index = slice_ranges(shape, at)
    dims = tuple(len(range(*s.indices(d))) for s, d in zip(index, shape, strict=True))
    return (ts[0].with_shape(dims),)


def _pad(ts: tuple[TensorType, ...], at: A.PadAttrs) -> tuple[TensorType, ...]:
    rank = ts[0].rank
    if len(at.pads) != 2 * rank:
        raise FrameworkError(f"pad needs {2 * rank} pads for rank {rank}, got {len(at.pads)}")
    shape = tuple(d + at.pads[i] + at.pads[i + rank] for i, d in enumerate(ts[0].shape))
    if at.mode == "reflect" and any(
            max(at.pads[i], at.pads[i + rank]) >= d for i, d in enumerate(ts[0].shape)):
        raise FrameworkError(f"reflect pads {at.pads} must be smaller than the dims {ts[0].shape}")
    return (ts[0].with_shape(shape),)


def _gather(ts: tuple[TensorType, ...], at: A.AxisAttrs) -> tuple[TensorType, ...]:
    data, idx = ts
    if idx.dtype not in ("int32", "int64"):
        raise FrameworkError(f"gather indices must be int32/int64, got {idx.dtype}")
    axis = norm_axis(at.axis, data.rank)
    return (data.with_shape(data.shape[:axis] + idx.shape + data.shape[axis + 1:]),)


def _expand(ts: tuple[TensorType, ...], at: A.ExpandAttrs) -> tuple[TensorType, ...]:
    return (ts[0].with_shape(broadcast_shapes(ts[0].shape, at.shape)),)


def _fill(ts: tuple[TensorType, ...], at: A.FillAttrs) -> tuple[TensorType, ...]:
    return (TensorType(at.shape, at.dtype),)


def _one_hot(ts: tuple[TensorType, ...], at: A.OneHotAttrs) -> tuple[TensorType, ...]:
    if ts[0].dtype not in ("int32", "int64"):
        raise FrameworkError(f"one_hot indices must be int32/int64, got {ts[0].dtype}")
    shape = list(ts[0].shape)
    axis = at.axis + len(shape) + 1 if at.axis < 0 else at.axis
    if not 0 <= axis <= len(shape):
        raise FrameworkError(f"one_hot axis {at.axis} out of range")
    shape.insert(axis, at.depth)
    return (TensorType(tuple(shape), at.dtype),)


def _softmax(ts: tuple[TensorType, ...], at: A.AxisAttrs) -> tuple[TensorType, ...]:
    require_float(ts[0])
    norm_axis(at.axis, ts[0].rank)
    return (ts[0],)


SHAPE_RULES: dict[OpCode, ShapeRule] = {
    **{op: _unary() for op in UNARY_ELEMENTWISE},
    OpCode.NEG: _unary(float_only=False),
    OpCode.ABS: _unary(float_only=False),
    OpCode.IDENTITY: _unary(float_only=False),
    OpCode.CAST: _cast,
    **{op: _binary() for op in BINARY_ELEMENTWISE},
    **{op: _binary("bool") for op in COMPARISONS},
    OpCode.WHERE: _where,
    OpCode.SOFTMAX: _softmax,
    OpCode.LOG_SOFTMAX: _softmax,
    OpCode.RESHAPE: _reshape,
    OpCode.FLATTEN: _flatten,
    OpCode.TRANSPOSE: _transpose,
    OpCode.CONCAT: _concat,
    OpCode.SPLIT: _split,
    OpCode.SLICE: _slice,
    OpCode.PAD: _pad,
    OpCode.GATHER: _gather,
    OpCode.EXPAND: _expand,
    OpCode.REDUCE_SUM: _reduce,
    OpCode.REDUCE_MEAN: _reduce,
    OpCode.REDUCE_MAX: _reduce,
    OpCode.ARGMAX: _argmax,
    OpCode.FILL: _fill,
    OpCode.ONE_HOT: _one_hot,
    OpCode.FUSED: check_fused,
    **NN_SHAPE_RULES,
}
"""Output types of every op, from its input types and attrs."""


def infer_types(op: OpCode, in_types: Sequence[TensorType], attrs: Any,
                where: str = "") -> tuple[TensorType, ...]:
    """Apply SHAPE_RULES[op]; a FrameworkError is re-raised prefixed with ``where``."""
    try:
        return SHAPE_RULES[op](tuple(in_types), attrs)
    except FrameworkError as exc:
        raise FrameworkError(f"{where or op}: {exc}") from None
