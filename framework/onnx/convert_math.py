"""Converters for ONNX elementwise ops: activations, unary math, broadcasting binary ops,
variadic Sum/Max/Min/Mean, comparisons, Where, Cast, Clip and the aliases (Identity, Dropout).

Ops the IR lacks but that are short compositions of IR ops (Softsign, HardSigmoid, HardSwish,
Mish, ThresholdedRelu, Not, LessOrEqual, GreaterOrEqual) are decomposed here, following the ONNX
operator definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

import numpy as np

from ..attrs import FLOAT_DTYPES
from ..ops import OpCode
from .context import Converter, ImportContext, onnx_dtype


def _unary(op: OpCode) -> Converter:
    """An ONNX op with one input and no attributes that maps to one IR op."""
    def convert(ctx: ImportContext) -> str:
        return ctx.b.node(op, [ctx.input(0)], name=ctx.out_name())[0]
    return convert


def _legacy_operand(ctx: ImportContext, i: int) -> str:
    """Operand ``i`` of a binary op, reshaped for opset < 7 ``broadcast=1, axis=k`` semantics.

    Before opset 7, B was aligned with A starting at ``axis`` (ONNX Add-6): B of shape (C,)
    against A of shape (N, C, H, W) with axis=1 means (1, C, 1, 1), not NumPy's trailing
    alignment.
    """
    value = ctx.input(i)
    if i != 1 or ctx.opset >= 7 or not ctx.attrs.get("broadcast", 0) or "axis" not in ctx.attrs:
        return value
    rank_a = len(ctx.shape(0))
    shape_b = ctx.shape(1)
    axis = int(ctx.attrs.get("axis")) % max(rank_a, 1)
    trailing = rank_a - axis - len(shape_b)
    if trailing <= 0:
        return value
    return ctx.b.reshape(value, shape_b + (1,) * trailing)


def _binary(op: OpCode) -> Converter:
    """A broadcasting binary ONNX op mapped to one IR op (NumPy broadcasting, opset >= 7)."""
    def convert(ctx: ImportContext) -> str:
        a, b = _legacy_operand(ctx, 0), _legacy_operand(ctx, 1)
        return ctx.b.node(op, [a, b], name=ctx.out_name())[0]
    return convert


def _variadic(op: OpCode, mean: bool = False) -> Converter:
    """Sum / Max / Min / Mean over any number of inputs: a left fold of the binary IR op."""
    def convert(ctx: ImportContext) -> str:
        values = ctx.inputs()
        if len(values) == 1:
            return values[0]
        last = len(values) - 2
        out = reduce(lambda acc, iv: ctx.b.node(
            op, [acc, iv[1]], name=None if mean or iv[0] < last else ctx.out_name())[0],
            enumerate(values[1:]), values[0])
        return ctx.b.div(out, float(len(values)), name=ctx.out_name()) if mean else out
    return convert


def _attr_unary(build: Callable[[ImportContext, str], str]) -> Converter:
    def convert(ctx: ImportContext) -> str:
        return build(ctx, ctx.input(0))
    return convert


def _pow(ctx: ImportContext) -> str:
    base, exponent = ctx.input(0), ctx.input(1)
    if ctx.dtype(1) != ctx.dtype(0):  # Pow-12+ allows a different exponent type
        exponent = ctx.b.cast(exponent, ctx.dtype(0))
    return ctx.b.pow(base, exponent, name=ctx.out_name())


def _clip(ctx: ImportContext) -> str:
    """Clip-6 takes min/max attributes; Clip-11+ takes optional inputs, which may be tensors."""
    x = ctx.input(0)
    if ctx.opset < 11:
        return ctx.b.clip(x, ctx.attrs.get("min"), ctx.attrs.get("max"), name=ctx.out_name())
    bounds: list[float | None] = []
    for i in (1, 2):
        known = ctx.known_const(ctx.node.input[i]) if ctx.has(i) else None
        bounds.append(None if known is None else float(known))
    dynamic = [i for i in (1, 2) if ctx.has(i) and bounds[i - 1] is None]
    if not dynamic and ctx.dtype(0) in FLOAT_DTYPES:
        return ctx.b.clip(x, bounds[0], bounds[1], name=ctx.out_name())
    if not ctx.has(1) and not ctx.has(2):
        return x
    # integer clip (the IR's clip is floating-point) or bounds known only at run time:
    # max(x, lo) then min(., hi)
    if ctx.has(1):
        x = ctx.b.maximum(x, ctx.input(1), name=None if ctx.has(2) else ctx.out_name())
    if ctx.has(2):
        x = ctx.b.minimum(x, ctx.input(2), name=ctx.out_name())
    return x


def _cast(ctx: ImportContext) -> str:
    dtype = onnx_dtype(int(ctx.attrs.get("to")), f"{ctx.source}: Cast 'to'")
    x = ctx.input(0)
    return x if ctx.dtype(0) == dtype else ctx.b.cast(x, dtype, name=ctx.out_name())


def _alias(ctx: ImportContext) -> tuple[str, ...]:
    """Identity, and Dropout at inference: the output is the input (mask, if asked, all true)."""
    x = ctx.input(0)
    if len(ctx.node.output) > 1 and ctx.node.output[1]:
        mask = ctx.b.constant(np.ones(ctx.shape(0), dtype=bool))
        return (x, mask)
    return (x,)


def _dropout(ctx: ImportContext) -> tuple[str, ...]:
    """Dropout at inference is the identity (the import is for inference: opset < 7 is_test is
    ignored); a constant training_mode=True (opset 12+) is refused, being random."""
    if ctx.has(2):
        training = ctx.known_const(ctx.node.input[2])
        if training is None or bool(training):
            raise ctx.error("training_mode must be a constant False: training-mode Dropout is "
                            "random and is not supported")
    return _alias(ctx)


def _gelu(ctx: ImportContext) -> str:
    return ctx.b.gelu(ctx.input(0), str(ctx.attrs.get("approximate", "none")),
                      name=ctx.out_name())


def _softsign(ctx: ImportContext) -> str:
    """x / (1 + |x|) (ONNX Softsign)."""
    x = ctx.input(0)
    return ctx.b.div(x, ctx.b.add(ctx.b.abs(x), 1.0), name=ctx.out_name())


def _hard_sigmoid(ctx: ImportContext) -> str:
    """max(0, min(1, alpha * x + beta)), alpha 0.2 and beta 0.5 by default (ONNX HardSigmoid)."""
    x = ctx.b.add(ctx.b.mul(ctx.input(0), float(ctx.attrs.get("alpha", 0.2))),
                  float(ctx.attrs.get("beta", 0.5)))
    return ctx.b.clip(x, 0.0, 1.0, name=ctx.out_name())


def _hard_swish(ctx: ImportContext) -> str:
    """x * max(0, min(1, x / 6 + 0.5)) (ONNX HardSwish)."""
    x = ctx.input(0)
    gate = ctx.b.clip(ctx.b.add(ctx.b.mul(x, 1.0 / 6.0), 0.5), 0.0, 1.0)
    return ctx.b.mul(x, gate, name=ctx.out_name())


def _mish(ctx: ImportContext) -> str:
    """x * tanh(softplus(x)) (ONNX Mish)."""
    x = ctx.input(0)
    return ctx.b.mul(x, ctx.b.tanh(ctx.b.softplus(x)), name=ctx.out_name())


def _thresholded_relu(ctx: ImportContext) -> str:
    """x where x > alpha else 0, alpha 1.0 by default (ONNX ThresholdedRelu)."""
    x = ctx.input(0)
    keep = ctx.b.greater(x, float(ctx.attrs.get("alpha", 1.0)))
    return ctx.b.where(keep, x, 0.0, name=ctx.out_name())


def _not_of(build: Callable[[ImportContext], str]) -> Converter:
    """Logical negation of a bool value, as where(v, False, True) (the IR has no Not)."""
    def convert(ctx: ImportContext) -> str:
        v = build(ctx)
        false, true = ctx.b.scalar(False, "bool"), ctx.b.scalar(True, "bool")
        return ctx.b.where(v, false, true, name=ctx.out_name())
    return convert


def _where(ctx: ImportContext) -> str:
    return ctx.b.where(ctx.input(0), ctx.input(1), ctx.input(2), name=ctx.out_name())


def _prelu(ctx: ImportContext) -> str:
    """PRelu; before opset 7 a 1-D slope of size C applied per channel (axis 1)."""
    x, slope = ctx.input(0), ctx.input(1)
    xs, ss = ctx.shape(0), ctx.shape(1)
    legacy = ctx.opset < 7 and len(ss) == 1 and len(xs) >= 2 and ss[0] == xs[1]
    if legacy and len(xs) > 2:
        slope = ctx.b.reshape(slope, (ss[0],) + (1,) * (len(xs) - 2))
    return ctx.b.prelu(x, slope, name=ctx.out_name())


MATH_CONVERTERS: dict[str, Converter] = {
    "Relu": _unary(OpCode.RELU),
    "Sigmoid": _unary(OpCode.SIGMOID),
    "Tanh": _unary(OpCode.TANH),
    "Softplus": _unary(OpCode.SOFTPLUS),
    "Exp": _unary(OpCode.EXP),
    "Log": _unary(OpCode.LOG),
    "Sqrt": _unary(OpCode.SQRT),
    "Neg": _unary(OpCode.NEG),
    "Abs": _unary(OpCode.ABS),
    "Erf": _unary(OpCode.ERF),
    "Reciprocal": _unary(OpCode.RECIPROCAL),
    "LeakyRelu": _attr_unary(lambda ctx, x: ctx.b.leaky_relu(
        x, float(ctx.attrs.get("alpha", 0.01)), name=ctx.out_name())),
    "Elu": _attr_unary(lambda ctx, x: ctx.b.elu(
        x, float(ctx.attrs.get("alpha", 1.0)), name=ctx.out_name())),
    # ONNX Selu defaults: alpha 1.67326319217681884765625, gamma 1.05070102214813232421875
    "Selu": _attr_unary(lambda ctx, x: ctx.b.selu(
        x, float(ctx.attrs.get("alpha", 1.67326319217681884765625)),
        float(ctx.attrs.get("gamma", 1.05070102214813232421875)), name=ctx.out_name())),
    "Gelu": _gelu,
    "Softsign": _softsign,
    "HardSigmoid": _hard_sigmoid,
    "HardSwish": _hard_swish,
    "Mish": _mish,
    "ThresholdedRelu": _thresholded_relu,
    "PRelu": _prelu,
    "Add": _binary(OpCode.ADD),
    "Sub": _binary(OpCode.SUB),
    "Mul": _binary(OpCode.MUL),
    "Div": _binary(OpCode.DIV),
    "Pow": _pow,
    "Equal": _binary(OpCode.EQUAL),
    "Less": _binary(OpCode.LESS),
    "Greater": _binary(OpCode.GREATER),
    "LessOrEqual": _not_of(lambda ctx: ctx.b.greater(ctx.input(0), ctx.input(1))),
    "GreaterOrEqual": _not_of(lambda ctx: ctx.b.less(ctx.input(0), ctx.input(1))),
    "Not": _not_of(lambda ctx: ctx.input(0)),
    "Where": _where,
    "Sum": _variadic(OpCode.ADD),
    "Max": _variadic(OpCode.MAXIMUM),
    "Min": _variadic(OpCode.MINIMUM),
    "Mean": _variadic(OpCode.ADD, mean=True),
    "Clip": _clip,
    "Cast": _cast,
    "Identity": _alias,
    "Dropout": _dropout,
}
"""ONNX op type -> converter, for the elementwise family."""
