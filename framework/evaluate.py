"""NumPy semantics of every op: EVAL_RULES[op](inputs, attrs) -> tuple of output arrays.

Rules receive arrays already promoted by the interpreter (float16 arrives as float32) and may
return any float precision; the interpreter casts each result to the dtype the graph declares.
The convolution, pooling and normalisation rules are in evaluate_nn.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import attrs as A
from .errors import FrameworkError
from .evaluate_nn import NN_EVAL_RULES
from .fused import eval_fused
from .ops import OpCode
from .shape_utils import norm_axis
from .shapes import reduced_axes, slice_ranges

Arrays = Sequence[np.ndarray]
EvalRule = Callable[[Arrays, Any], tuple[np.ndarray, ...]]


def _unary(fn: Callable[..., np.ndarray]) -> EvalRule:
    """Rule for ``fn(x)`` or ``fn(x, attrs)`` when fn takes two parameters."""
    def rule(xs: Arrays, at: Any) -> tuple[np.ndarray, ...]:
        return (np.asarray(fn(xs[0]) if at is None else fn(xs[0], at)),)
    return rule


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> EvalRule:
    def rule(xs: Arrays, _: Any) -> tuple[np.ndarray, ...]:
        return (np.asarray(fn(xs[0], xs[1])),)
    return rule


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow warning for large |x|)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise. scipy is imported on first use: it costs half a second
    at start-up, and most runs never evaluate erf."""
    from scipy import special

    return special.erf(x)


def gelu(x: np.ndarray, at: A.GeluAttrs) -> np.ndarray:
    """GELU; tanh form is 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) (Hendrycks & Gimpel)."""
    if at.approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
        return 0.5 * x * (1.0 + np.tanh(inner))
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _clip(x: np.ndarray, at: A.ClipAttrs) -> np.ndarray:
    if at.min is not None:
        x = np.maximum(x, np.asarray(at.min, x.dtype))
    if at.max is not None:
        x = np.minimum(x, np.asarray(at.max, x.dtype))
    return x


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.power(a, np.abs(b))  # integer pow with negative exponent is undefined
    return np.power(a, b)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer Div truncates toward zero
    return a / b


def _reduce(fn: Callable[..., np.ndarray]) -> EvalRule:
    def rule(xs: Arrays, at: A.ReduceAttrs) -> tuple[np.ndarray, ...]:
        axes = reduced_axes(xs[0].ndim, at.axes)
        return (np.asarray(fn(xs[0], axis=axes, keepdims=at.keepdims)),)
    return rule


def _argmax(xs: Arrays, at: A.ReduceAttrs) -> tuple[np.ndarray, ...]:
    axis = norm_axis(at.axes[0], xs[0].ndim)
    return (np.argmax(xs[0], axis=axis, keepdims=at.keepdims).astype(np.int64),)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """exp(x - max) / sum(...) along axis."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - max - log(sum(exp(x - max))) along axis."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _split(xs: Arrays, at: A.SplitAttrs) -> tuple[np.ndarray, ...]:
    cuts = np.cumsum(at.sizes)[:-1]
    return tuple(np.split(xs[0], cuts, axis=norm_axis(at.axis, xs[0].ndim)))


def _pad(xs: Arrays, at: A.PadAttrs) -> tuple[np.ndarray, ...]:
    x = xs[0]
    widths = [(at.pads[i], at.pads[i + x.ndim]) for i in range(x.ndim)]
    if at.mode == "constant":
        return (np.pad(x, widths, mode="constant", constant_values=at.value),)
    return (np.pad(x, widths, mode=at.mode),)  # type: ignore[call-overload]


def _one_hot(xs: Arrays, at: A.OneHotAttrs) -> tuple[np.ndarray, ...]:
    idx = xs[0].astype(np.int64)
    idx = np.where(idx < 0, idx + at.depth, idx)  # ONNX OneHot: negative indices wrap once
    hot = (idx[..., None] == np.arange(at.depth)).astype(at.dtype)
    axis = at.axis + idx.ndim + 1 if at.axis < 0 else at.axis
    return (np.moveaxis(hot, -1, axis),)


def _flatten(x: np.ndarray, at: A.FlattenAttrs) -> np.ndarray:
    axis = at.axis + x.ndim if at.axis < 0 else at.axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _gather(xs: Arrays, at: A.AxisAttrs) -> tuple[np.ndarray, ...]:
    axis = norm_axis(at.axis, xs[0].ndim)
    idx = xs[1].astype(np.int64)
    dim = xs[0].shape[axis]
    if idx.size and (idx.max() >= dim or idx.min() < -dim):
        raise FrameworkError(f"gather index out of range [{-dim}, {dim}) on axis {axis}")
    return (np.take(xs[0], idx, axis=axis),)


EVAL_RULES: dict[OpCode, EvalRule] = {
    OpCode.RELU: _unary(lambda x: np.maximum(x, 0)),
    OpCode.LEAKY_RELU: _unary(lambda x, at: np.where(x >= 0, x, at.alpha * x)),
    OpCode.GELU: _unary(gelu),
    OpCode.SILU: _unary(lambda x: x * sigmoid(x)),
    OpCode.SIGMOID: _unary(sigmoid),
    OpCode.TANH: _unary(np.tanh),
    OpCode.ELU: _unary(lambda x, at: _elu(x, at.alpha)),
    OpCode.SELU: _unary(lambda x, at: at.gamma * _elu(x, at.alpha)),
    OpCode.SOFTPLUS: _unary(softplus),
    OpCode.CLIP: _unary(_clip),
    OpCode.EXP: _unary(np.exp),
    OpCode.LOG: _unary(np.log),
    OpCode.SQRT: _unary(np.sqrt),
    OpCode.NEG: _unary(np.negative),
    OpCode.ABS: _unary(np.abs),
    OpCode.ERF: _unary(erf),
    OpCode.RECIPROCAL: _unary(np.reciprocal),
    OpCode.CAST: _unary(lambda x, at: x.astype(at.dtype)),
    OpCode.IDENTITY: _unary(np.copy),
    OpCode.ADD: _binary(np.add),
    OpCode.SUB: _binary(np.subtract),
    OpCode.MUL: _binary(np.multiply),
    OpCode.DIV: _binary(_div),
    OpCode.POW: _binary(_pow),
    OpCode.PRELU: _binary(lambda x, s: np.where(x >= 0, x, s * x)),
    OpCode.MAXIMUM: _binary(np.maximum),
    OpCode.MINIMUM: _binary(np.minimum),
    OpCode.GREATER: _binary(np.greater),
    OpCode.LESS: _binary(np.less),
    OpCode.EQUAL: _binary(np.equal),
    OpCode.WHERE: lambda xs, _: (np.where(xs[0], xs[1], xs[2]),),
    OpCode.SOFTMAX: _unary(lambda x, at: softmax(x, norm_axis(at.axis, x.ndim))),
    OpCode.LOG_SOFTMAX: _unary(lambda x, at: log_softmax(x, norm_axis(at.axis, x.ndim))),
    OpCode.RESHAPE: _unary(lambda x, at: x.reshape(at.shape)),
    OpCode.FLATTEN: _unary(_flatten),
    OpCode.TRANSPOSE: _unary(lambda x, at: np.transpose(x, at.perm)),
    OpCode.CONCAT: lambda xs, at: (np.concatenate(xs, axis=norm_axis(at.axis, xs[0].ndim)),),
    OpCode.SPLIT: _split,
    OpCode.SLICE: _unary(lambda x, at: x[slice_ranges(x.shape, at)]),
    OpCode.PAD: _pad,
    OpCode.GATHER: _gather,
    OpCode.EXPAND: _unary(lambda x, at: np.broadcast_to(x, np.broadcast_shapes(x.shape, at.shape))),
    OpCode.REDUCE_SUM: _reduce(np.sum),
    OpCode.REDUCE_MEAN: _reduce(np.mean),
    OpCode.REDUCE_MAX: _reduce(np.max),
    OpCode.ARGMAX: _argmax,
    OpCode.FILL: lambda _, at: (np.full(at.shape, at.value, dtype=at.dtype),),
    OpCode.ONE_HOT: _one_hot,
    OpCode.FUSED: eval_fused,
    **NN_EVAL_RULES,
}
"""NumPy implementation of every op."""
