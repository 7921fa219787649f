"""Reverse-mode rules: VJP_RULES[op](b, node, dys, needs) -> one gradient per node input.

A rule emits ordinary ops into the GraphBuilder ``b`` (which already holds the forward graph, so
it may read any forward value by name). ``dys`` holds the incoming gradient name of each node
output (None when that output has none); ``needs[i]`` says whether input i wants a gradient, so
rules skip work nobody uses. A rule returns None for inputs it gives no gradient.

Ops without a rule are listed in NON_DIFFERENTIABLE: piecewise-constant ops have gradient zero
almost everywhere (ZERO_GRADIENT); the backward helper ops themselves are not differentiated
again (no second-order support). The nn rules (matmul, conv, norms, pooling) are in vjp_nn.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .builder import GraphBuilder
from .ir import Node
from .ops import COMPARISONS, OpCode
from .shape_utils import norm_axis
from .shapes import reduced_axes, reduced_shape
from .vjp_common import Grads, unbroadcast
from .vjp_nn import NN_VJP_RULES

VjpRule = Callable[[GraphBuilder, Node, Sequence[str | None], Sequence[bool]], Grads]


def _unary(fn: Callable[[GraphBuilder, Node, str], str]) -> VjpRule:
    """Rule for a one-input op whose gradient is ``fn(b, node, dy)``."""
    def rule(b: GraphBuilder, node: Node, dys: Sequence[str | None],
             needs: Sequence[bool]) -> Grads:
        return [fn(b, node, dys[0])] if dys[0] is not None and needs[0] else [None]
    return rule


def _x(node: Node) -> str:
    return node.inputs[0]


def _y(node: Node) -> str:
    return node.outputs[0]


def _gelu(b: GraphBuilder, node: Node, dy: str) -> str:
    x = _x(node)
    if node.attrs.approximate == "tanh":
        # d/dx 0.5x(1+tanh(u)), u = c(x + k x^3): 0.5(1+t) + 0.5x(1-t^2) c (1 + 3k x^2)
        c, k = math.sqrt(2.0 / math.pi), 0.044715
        x2 = b.mul(x, x)
        t = b.tanh(b.mul(b.add(x, b.mul(b.mul(x2, x), k)), c))
        du = b.mul(b.add(b.mul(x2, 3 * k), 1.0), c)
        sech2 = b.sub(1.0, b.mul(t, t))
        d = b.add(b.mul(b.add(t, 1.0), 0.5), b.mul(b.mul(b.mul(x, sech2), du), 0.5))
        return b.mul(dy, d)
    # d/dx x*Phi(x) = Phi(x) + x*phi(x)
    phi_cdf = b.mul(b.add(b.erf(b.mul(x, 1.0 / math.sqrt(2.0))), 1.0), 0.5)
    pdf = b.mul(b.exp(b.mul(b.mul(x, x), -0.5)), 1.0 / math.sqrt(2.0 * math.pi))
    return b.mul(dy, b.add(phi_cdf, b.mul(x, pdf)))


def _silu(b: GraphBuilder, node: Node, dy: str) -> str:
    s = b.sigmoid(_x(node))
    return b.mul(dy, b.mul(s, b.add(b.mul(_x(node), b.sub(1.0, s)), 1.0)))


def _clip(b: GraphBuilder, node: Node, dy: str) -> str:
    # gradient passes where min <= x <= max (PyTorch clamp convention)
    g = dy
    if node.attrs.min is not None:
        g = b.where(b.less(_x(node), float(node.attrs.min)), 0.0, g)
    if node.attrs.max is not None:
        g = b.where(b.greater(_x(node), float(node.attrs.max)), 0.0, g)
    return g


def _cast(b: GraphBuilder, node: Node, dy: str) -> str:
    return b.cast(dy, b.dtype(_x(node)))


def _binary(fn: Callable[[GraphBuilder, Node, str, int], str]) -> VjpRule:
    """Rule for a broadcasting two-input op: ``fn(b, node, dy, i)`` is the gradient w.r.t.
    input i at the output's shape; it is then summed down to the input's shape."""
    def rule(b: GraphBuilder, node: Node, dys: Sequence[str | None],
             needs: Sequence[bool]) -> Grads:
        dy = dys[0]
        if dy is None:
            return [None] * len(node.inputs)
        return [unbroadcast(b, fn(b, node, dy, i), b.shape(v)) if needs[i] else None
                for i, v in enumerate(node.inputs)]
    return rule


def _div(b: GraphBuilder, node: Node, dy: str, i: int) -> str:
    num, den = node.inputs
    return b.div(dy, den) if i == 0 else b.neg(b.div(b.mul(dy, _y(node)), den))


def _pow(b: GraphBuilder, node: Node, dy: str, i: int) -> str:
    base, ex = node.inputs
    if i == 0:
        return b.mul(dy, b.mul(ex, b.pow(base, b.sub(ex, 1.0))))
    return b.mul(dy, b.mul(_y(node), b.log(base)))


def _prelu(b: GraphBuilder, node: Node, dy: str, i: int) -> str:
    x, slope = node.inputs
    neg = b.less(x, 0.0)
    if i == 0:
        return b.where(neg, b.mul(dy, slope), dy)
    return b.where(neg, b.mul(dy, x), 0.0)


def _minmax(take_a_when: OpCode) -> Callable[[GraphBuilder, Node, str, int], str]:
    """maximum/minimum: the gradient goes to the selected operand, to ``a`` on ties."""
    def fn(b: GraphBuilder, node: Node, dy: str, i: int) -> str:
        a, c = node.inputs
        loses = b.node(take_a_when, [a, c])[0]  # where a is not the result
        return b.where(loses, 0.0, dy) if i == 0 else b.where(loses, dy, 0.0)
    return fn


def _where(b: GraphBuilder, node: Node, dys: Sequence[str | None],
           needs: Sequence[bool]) -> Grads:
    cond = node.inputs[0]
    dy = dys[0]
    if dy is None:
        return [None, None, None]
    ga = unbroadcast(b, b.where(cond, dy, 0.0), b.shape(node.inputs[1])) if needs[1] else None
    gb = unbroadcast(b, b.where(cond, 0.0, dy), b.shape(node.inputs[2])) if needs[2] else None
    return [None, ga, gb]


def _reshape_back(b: GraphBuilder, node: Node, dy: str) -> str:
    return b.reshape(dy, b.shape(_x(node)))


def _transpose(b: GraphBuilder, node: Node, dy: str) -> str:
    inverse = [0] * len(node.attrs.perm)
    for i, p in enumerate(node.attrs.perm):
        inverse[p] = i
    return b.transpose(dy, inverse)


def _concat(b: GraphBuilder, node: Node, dys: Sequence[str | None],
            needs: Sequence[bool]) -> Grads:
    if dys[0] is None:
        return [None] * len(node.inputs)
    axis = norm_axis(node.attrs.axis, len(b.shape(_y(node))))
    sizes = [b.shape(v)[axis] for v in node.inputs]
    parts = b.split(dys[0], sizes, axis) if len(sizes) > 1 else (dys[0],)
    return [p if need else None for p, need in zip(parts, needs, strict=True)]


def _split(b: GraphBuilder, node: Node, dys: Sequence[str | None],
           needs: Sequence[bool]) -> Grads:
    if not needs[0] or all(d is None for d in dys):
        return [None]
    parts = [d if d is not None else b.fill(b.shape(o), 0.0, b.dtype(o))
             for d, o in zip(dys, node.outputs, strict=True)]
    return [b.concat(parts, node.attrs.axis) if len(parts) > 1 else parts[0]]


def _slice(b: GraphBuilder, node: Node, dy: str) -> str:
    """Scatter dy back into zeros: per sliced axis, interleave zeros for steps > 1, then pad."""
    shape = list(b.shape(dy))
    full = b.shape(_x(node))
    g = dy
    for start, end, axis, step in zip(node.attrs.starts, node.attrs.ends, node.attrs.axes,
                                      node.attrs.steps, strict=True):
        ax = norm_axis(axis, len(full))
        picked = range(*slice(start, end, step).indices(full[ax]))
        if len(picked) == 0:
            return b.fill(full, 0.0, b.dtype(dy))
        if step < 0:  # walk the picked indices in increasing order
            g = b.slice(g, [-1], [-(len(picked) + 1)], [ax], [-1])
            picked = picked[::-1]
        s = abs(step)
        m = len(picked)
        if s > 1:
            # (.., m, ..) -> (.., m, s, ..) with zeros in slots 1..s-1 -> (.., m*s, ..)
            lead, tail = shape[:ax], shape[ax + 1:]
            col = b.reshape(g, lead + [m, 1] + tail)
            zeros = b.fill(tuple(lead + [m, s - 1] + tail), 0.0, b.dtype(dy))
            wide = b.reshape(b.concat([col, zeros], ax + 1), lead + [m * s] + tail)
            g = b.slice(wide, [0], [(m - 1) * s + 1], [ax])
        pads = [0] * (2 * len(full))
        pads[ax] = picked[0]
        pads[ax + len(full)] = full[ax] - (picked[-1] + 1)
        g = b.pad(g, pads)
        shape[ax] = full[ax]
    return g


def _pad(b: GraphBuilder, node: Node, dy: str) -> str:
    full = b.shape(_x(node))
    rank = len(full)
    pads = node.attrs.pads
    if node.attrs.mode == "constant":  # the input is the centre block
        begins = pads[:rank]
        return b.slice(dy, list(begins), [p + d for p, d in zip(begins, full, strict=True)],
                       list(range(rank)))
    # reflect/edge padding along one axis is a gather with fixed indices
    # (numpy.pad of arange(n) gives them), so its gradient is that gather's scatter-add
    g = dy
    for axis in range(rank):
        if pads[axis] or pads[axis + rank]:
            idx = np.pad(np.arange(full[axis]), (pads[axis], pads[axis + rank]),
                         mode=node.attrs.mode)
            g = scatter_add(b, g, b.constant(idx.astype(np.int64)), axis, full[axis])
    return g


def scatter_add(b: GraphBuilder, dy: str, idx: str, axis: int, dim: int) -> str:
    """Gradient of ``gather(x, idx, axis)`` for x with ``dim`` entries on ``axis``: a matmul
    with a one-hot matrix, dx[a] = sum_i [idx_i == a] dy_i (negative indices wrap)."""
    shape = b.shape(dy)
    r_idx = len(b.shape(idx))
    pre, post = shape[:axis], shape[axis + r_idx:]
    n_idx = math.prod(b.shape(idx))
    r_pre = len(pre)
    # dy is (pre, idx, post): bring idx dims first, flatten to (n_idx, pre*post)
    perm = list(range(r_pre, r_pre + r_idx)) + list(range(r_pre)) + \
        list(range(r_pre + r_idx, len(shape)))
    flat = b.reshape(b.transpose(dy, perm), [n_idx, math.prod(pre) * math.prod(post)])
    hot = b.reshape(b.one_hot(idx, dim, dtype=b.dtype(dy)), [n_idx, dim])
    dx = b.reshape(b.gemm(hot, flat, trans_a=True), [dim] + list(pre) + list(post))
    back = list(range(1, 1 + r_pre)) + [0] + list(range(1 + r_pre, 1 + r_pre + len(post)))
    return b.transpose(dx, back)


def _gather(b: GraphBuilder, node: Node, dys: Sequence[str | None],
            needs: Sequence[bool]) -> Grads:
    data, idx = node.inputs
    if dys[0] is None or not needs[0]:
        return [None, None]
    shape = b.shape(data)
    axis = norm_axis(node.attrs.axis, len(shape))
    return [scatter_add(b, dys[0], idx, axis, shape[axis]), None]


def _expand_back(b: GraphBuilder, node: Node, dy: str) -> str:
    return unbroadcast(b, dy, b.shape(_x(node)))


def _reduce(mean: bool) -> VjpRule:
    def fn(b: GraphBuilder, node: Node, dy: str) -> str:
        shape = b.shape(_x(node))
        axes = reduced_axes(len(shape), node.attrs.axes)
        g = b.reshape(dy, reduced_shape(shape, axes, True))
        if mean:
            g = b.mul(g, 1.0 / max(1, math.prod(shape[a] for a in axes)))
        return b.expand(g, shape)
    return _unary(fn)


def _reduce_max(b: GraphBuilder, node: Node, dy: str) -> str:
    """Split the gradient evenly between tied maxima."""
    x = _x(node)
    shape = b.shape(x)
    axes = reduced_axes(len(shape), node.attrs.axes)
    keep = reduced_shape(shape, axes, True)
    hit = b.cast(b.equal(x, b.reshape(_y(node), keep)), b.dtype(x))
    share = b.div(b.reshape(dy, keep), b.reduce_sum(hit, list(axes), keepdims=True))
    return b.mul(hit, share)


VJP_RULES: dict[OpCode, VjpRule] = {
    OpCode.RELU: _unary(lambda b, n, dy: b.where(b.greater(_x(n), 0.0), dy, 0.0)),
    OpCode.LEAKY_RELU: _unary(lambda b, n, dy: b.where(
        b.less(_x(n), 0.0), b.mul(dy, n.attrs.alpha), dy)),
    OpCode.GELU: _unary(_gelu),
    OpCode.SILU: _unary(_silu),
    OpCode.SIGMOID: _unary(lambda b, n, dy: b.mul(dy, b.mul(_y(n), b.sub(1.0, _y(n))))),
    OpCode.TANH: _unary(lambda b, n, dy: b.mul(dy, b.sub(1.0, b.mul(_y(n), _y(n))))),
    OpCode.ELU: _unary(lambda b, n, dy: b.where(
        b.greater(_x(n), 0.0), dy, b.mul(dy, b.add(_y(n), n.attrs.alpha)))),
    OpCode.SELU: _unary(lambda b, n, dy: b.where(
        b.greater(_x(n), 0.0), b.mul(dy, n.attrs.gamma),
        b.mul(dy, b.add(_y(n), n.attrs.gamma * n.attrs.alpha)))),
    OpCode.SOFTPLUS: _unary(lambda b, n, dy: b.mul(dy, b.sigmoid(_x(n)))),
    OpCode.CLIP: _unary(_clip),
    OpCode.EXP: _unary(lambda b, n, dy: b.mul(dy, _y(n))),
    OpCode.LOG: _unary(lambda b, n, dy: b.div(dy, _x(n))),
    OpCode.SQRT: _unary(lambda b, n, dy: b.div(dy, b.mul(_y(n), 2.0))),
    OpCode.NEG: _unary(lambda b, n, dy: b.neg(dy)),
    OpCode.ABS: _unary(lambda b, n, dy: b.where(b.less(_x(n), 0.0), b.neg(dy), dy)),
    OpCode.ERF: _unary(lambda b, n, dy: b.mul(dy, b.mul(
        b.exp(b.neg(b.mul(_x(n), _x(n)))), 2.0 / math.sqrt(math.pi)))),
    OpCode.RECIPROCAL: _unary(lambda b, n, dy: b.neg(b.mul(dy, b.mul(_y(n), _y(n))))),
    OpCode.CAST: _unary(_cast),
    OpCode.IDENTITY: _unary(lambda b, n, dy: dy),
    OpCode.ADD: _binary(lambda b, n, dy, i: dy),
    OpCode.SUB: _binary(lambda b, n, dy, i: dy if i == 0 else b.neg(dy)),
    OpCode.MUL: _binary(lambda b, n, dy, i: b.mul(dy, n.inputs[1 - i])),
    OpCode.DIV: _binary(_div),
    OpCode.POW: _binary(_pow),
    OpCode.PRELU: _binary(_prelu),
    OpCode.MAXIMUM: _binary(_minmax(OpCode.LESS)),
    OpCode.MINIMUM: _binary(_minmax(OpCode.GREATER)),
    OpCode.WHERE: _where,
    OpCode.RESHAPE: _unary(_reshape_back),
    OpCode.FLATTEN: _unary(_reshape_back),
    OpCode.TRANSPOSE: _unary(_transpose),
    OpCode.CONCAT: _concat,
    OpCode.SPLIT: _split,
    OpCode.SLICE: _unary(_slice),
    OpCode.PAD: _unary(_pad),
    OpCode.GATHER: _gather,
    OpCode.EXPAND: _unary(_expand_back),
    OpCode.REDUCE_SUM: _reduce(mean=False),
    OpCode.REDUCE_MEAN: _reduce(mean=True),
    OpCode.REDUCE_MAX: _unary(_reduce_max),
    **NN_VJP_RULES,
}
"""Vector-Jacobian product of every differentiable op."""

ZERO_GRADIENT = frozenset(COMPARISONS | {OpCode.ARGMAX, OpCode.ONE_HOT, OpCode.FILL})
"""Piecewise-constant ops: their gradient is zero wherever it exists."""

NON_DIFFERENTIABLE = ZERO_GRADIENT | frozenset({
    OpCode.CONV2D_GRAD_WEIGHT, OpCode.MAX_POOL2D_GRAD, OpCode.AVG_POOL2D_GRAD,
    OpCode.BATCH_NORM_GRAD,
    OpCode.FUSED,
})
"""Ops with no VJP rule (zero-gradient ops, backward ops: no second-order autodiff, and
compiler fusion groups, which exist only after differentiation)."""
