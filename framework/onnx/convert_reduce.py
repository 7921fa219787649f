"""Converters for ONNX softmax-family ops and reductions.

Softmax and LogSoftmax changed meaning at opset 13: before it, the input is coerced to 2-D at
``axis`` (default 1) and normalised over the whole flattened tail; from 13 on, over the single
``axis`` (default -1). Reductions take ``axes`` as an attribute or (ReduceSum-13, the others
from 18) as an input, with ``noop_with_empty_axes`` for the input form.
"""

from __future__ import annotations

from collections.abc import Callable

from ..attrs import AxisAttrs, ReduceAttrs
from ..builder import GraphBuilder
from ..ops import OpCode
from ..shape_utils import norm_axis
from .context import Converter, ImportContext


def _softmax(op: OpCode) -> Converter:
    def convert(ctx: ImportContext) -> str:
        x, shape = ctx.input(0), ctx.shape(0)
        rank = len(shape)
        if ctx.opset >= 13:
            return ctx.b.node(op, [x], AxisAttrs(int(ctx.attrs.get("axis", -1))),
                              name=ctx.out_name())[0]
        axis = norm_axis(int(ctx.attrs.get("axis", 1)), rank)
        if axis == rank - 1:  # the 2-D coercion is a no-op
            return ctx.b.node(op, [x], AxisAttrs(-1), name=ctx.out_name())[0]
        flat = ctx.b.flatten(x, axis)
        y = ctx.b.node(op, [flat], AxisAttrs(-1))[0]
        return ctx.b.reshape(y, shape, name=ctx.out_name())
    return convert


def _reduce_axes(ctx: ImportContext) -> tuple[int, ...] | None:
    """Axes to reduce, or None for "no-op" (noop_with_empty_axes with no axes)."""
    axes = ctx.ints_input_or_attr(1, "axes", "axes")
    if not axes:
        return None if ctx.attrs.get("noop_with_empty_axes", 0) else ()
    return axes


Step = Callable[[ImportContext, str], str]


def _reduce(op: OpCode, pre: Step | None = None, post: Step | None = None) -> Converter:
    """A reduction, optionally as ``post(reduce(pre(x)))`` for the ONNX reductions the IR
    composes (ReduceMin = -max(-x), ReduceL1 = sum|x|, ReduceL2 = sqrt(sum x^2), ...)."""
    def convert(ctx: ImportContext) -> str:
        x = ctx.input(0)
        axes = _reduce_axes(ctx)
        if pre is not None:
            x = pre(ctx, x)
        if axes is None:
            return x
        keep = bool(ctx.attrs.get("keepdims", 1))
        name = ctx.out_name() if post is None else None
        y = ctx.b.node(op, [x], ReduceAttrs(tuple(axes), keep), name=name)[0]
        return y if post is None else post(ctx, y)
    return convert


def _reduce_log_sum_exp(ctx: ImportContext) -> str:
    """log(sum(exp(x))) as m + log(sum(exp(x - m))), m the max over the axes (no overflow)."""
    x = ctx.input(0)
    axes = _reduce_axes(ctx)
    if axes is None:
        return x
    keep = bool(ctx.attrs.get("keepdims", 1))
    m = ctx.b.reduce_max(x, axes, True)
    total = ctx.b.reduce_sum(ctx.b.exp(ctx.b.sub(x, m)), axes, keep)
    if not keep:
        m = ctx.b.reshape(m, ctx.b.shape(total))
    return ctx.b.add(ctx.b.log(total), m, name=ctx.out_name())


def _negate(ctx: ImportContext, v: str, name: str | None = None) -> str:
    """-v, or logical not for bool (so min = -max(-x) also holds for bool tensors)."""
    if ctx.b.dtype(v) == "bool":
        return ctx.b.where(v, ctx.b.scalar(False, "bool"), ctx.b.scalar(True, "bool"), name=name)
    return ctx.b.neg(v, name=name)


def _named(fn: Callable[..., str]) -> Step:
    """A one-op post step that names its output after the ONNX output."""
    return lambda ctx, v: fn(ctx.b, v, name=ctx.out_name())


def _argmax(ctx: ImportContext) -> str:
    if int(ctx.attrs.get("select_last_index", 0)):
        raise ctx.error("select_last_index=1 is not supported")
    return ctx.b.argmax(ctx.input(0), int(ctx.attrs.get("axis", 0)),
                        bool(ctx.attrs.get("keepdims", 1)), name=ctx.out_name())


REDUCE_CONVERTERS: dict[str, Converter] = {
    "Softmax": _softmax(OpCode.SOFTMAX),
    "LogSoftmax": _softmax(OpCode.LOG_SOFTMAX),
    "ReduceSum": _reduce(OpCode.REDUCE_SUM),
    "ReduceMean": _reduce(OpCode.REDUCE_MEAN),
    "ReduceMax": _reduce(OpCode.REDUCE_MAX),
    "ReduceSumSquare": _reduce(OpCode.REDUCE_SUM, pre=lambda ctx, x: ctx.b.mul(x, x)),
    "ReduceMin": _reduce(OpCode.REDUCE_MAX, pre=_negate,
                         post=lambda ctx, v: _negate(ctx, v, ctx.out_name())),
    "ReduceL1": _reduce(OpCode.REDUCE_SUM, pre=lambda ctx, x: ctx.b.abs(x)),
    "ReduceL2": _reduce(OpCode.REDUCE_SUM, pre=lambda ctx, x: ctx.b.mul(x, x),
                        post=_named(GraphBuilder.sqrt)),
    "ReduceLogSum": _reduce(OpCode.REDUCE_SUM, post=_named(GraphBuilder.log)),
    "ReduceLogSumExp": _reduce_log_sum_exp,
    "ArgMax": _argmax,
}
"""ONNX op type -> converter, for softmax and reductions."""
