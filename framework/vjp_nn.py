"""VJP rules of the neural-network ops (see vjp.py for the rule contract).

Convolution gradients reuse forward ops: dx of conv2d is a conv_transpose2d with the same
weight (output_padding recovers the rows a strided conv skipped), dx of conv_transpose2d is a
conv2d; weight gradients use the conv2d_grad_weight op. Training-mode batch norm has its own
backward op (batch_norm_grad: dx, dscale and dbias from x, dy and scale, as MindSpore's
BNTrainingReduceGrad/UpdateGrad pair), so targets can lower it as two streaming passes; the
other normalisation gradients are written with elementwise ops and reductions, recomputing the
statistics (CSE can share them later).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from . import attrs as A
from .builder import GraphBuilder
from .ir import Node
from .ops import OpCode
from .shape_utils import norm_axis
from .shapes_nn import matmul_shape
from .vjp_common import Grads, unbroadcast

Dys = Sequence[str | None]
Needs = Sequence[bool]


def _swap_last(b: GraphBuilder, v: str) -> str:
    r = len(b.shape(v))
    return b.transpose(v, list(range(r - 2)) + [r - 1, r - 2])


def _matmul(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    a, c = node.inputs
    dy = dys[0]
    if dy is None:
        return [None, None]
    sa, sc = b.shape(a), b.shape(c)
    # promote 1-D operands as numpy.matmul does, so both gradients are plain matmuls
    a2 = b.reshape(a, (1,) + sa) if len(sa) == 1 else a
    c2 = b.reshape(c, sc + (1,)) if len(sc) == 1 else c
    out2 = matmul_shape(b.shape(a2), b.shape(c2))
    dy2 = b.reshape(dy, out2) if b.shape(dy) != out2 else dy
    ga = gc = None
    if needs[0]:
        ga = b.reshape(unbroadcast(b, b.matmul(dy2, _swap_last(b, c2)), b.shape(a2)), sa)
    if needs[1]:
        gc = b.reshape(unbroadcast(b, b.matmul(_swap_last(b, a2), dy2), b.shape(c2)), sc)
    return [ga, gc]


def _gemm(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    at: A.GemmAttrs = node.attrs
    a, c = node.inputs[:2]
    dy = dys[0]
    if dy is None:
        return [None] * len(node.inputs)
    ga = gb = gcc = None
    if needs[0]:  # d op(A) = alpha dy op(B)^T, transposed back if trans_a
        ga = (b.gemm(c, dy, alpha=at.alpha, trans_a=at.trans_b, trans_b=True) if at.trans_a
              else b.gemm(dy, c, alpha=at.alpha, trans_b=not at.trans_b))
    if needs[1]:  # d op(B) = alpha op(A)^T dy, transposed back if trans_b
        gb = (b.gemm(dy, a, alpha=at.alpha, trans_a=True, trans_b=at.trans_a) if at.trans_b
              else b.gemm(a, dy, alpha=at.alpha, trans_a=not at.trans_a))
    if len(node.inputs) == 3 and needs[2]:
        scaled = b.mul(dy, at.beta) if at.beta != 1.0 else dy
        gcc = unbroadcast(b, scaled, b.shape(node.inputs[2]))
    return [ga, gb, gcc][:len(node.inputs)]


def _linear(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    x, w = node.inputs[:2]
    dy = dys[0]
    if dy is None:
        return [None] * len(node.inputs)
    out_f, in_f = b.shape(w)
    grads: list[str | None] = [None] * len(node.inputs)
    if needs[0]:
        grads[0] = b.matmul(dy, w)
    if needs[1]:
        dy2 = b.reshape(dy, (-1, out_f))
        grads[1] = b.gemm(dy2, b.reshape(x, (-1, in_f)), trans_a=True)
    if len(node.inputs) == 3 and needs[2]:
        grads[2] = unbroadcast(b, dy, (out_f,))
    return grads


def _conv_bias(b: GraphBuilder, dy: str) -> str:
    return b.reduce_sum(dy, [0, 2, 3], keepdims=False)


def _conv2d(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    at: A.Conv2dAttrs = node.attrs
    x, w = node.inputs[:2]
    dy = dys[0]
    if dy is None:
        return [None] * len(node.inputs)
    grads: list[str | None] = [None] * len(node.inputs)
    if needs[0]:
        h, wd = b.shape(x)[2:]
        kh, kw = b.shape(w)[2:]
        pt, pl, pb, pr = at.padding
        # rows the strided window never reached come back as output_padding
        oph = (h + pt + pb - at.dilation[0] * (kh - 1) - 1) % at.stride[0]
        opw = (wd + pl + pr - at.dilation[1] * (kw - 1) - 1) % at.stride[1]
        grads[0] = b.conv_transpose2d(dy, w, None, at.stride, at.padding, (oph, opw),
                                      at.dilation, at.groups)
    if needs[1]:
        grads[1] = b.conv2d_grad_weight(x, dy, at, b.shape(w))
    if len(node.inputs) == 3 and needs[2]:
        grads[2] = _conv_bias(b, dy)
    return grads


def _conv_transpose2d(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    at: A.ConvTranspose2dAttrs = node.attrs
    x, w = node.inputs[:2]
    dy = dys[0]
    if dy is None:
        return [None] * len(node.inputs)
    grads: list[str | None] = [None] * len(node.inputs)
    conv = A.Conv2dAttrs(at.stride, at.padding, at.dilation, at.groups)
    if needs[0]:
        grads[0] = b.conv2d(dy, w, None, at.stride, at.padding, at.dilation, at.groups)
    if needs[1]:  # conv_transpose2d is the adjoint of conv2d(., w): swap the roles of x and dy
        grads[1] = b.conv2d_grad_weight(dy, x, conv, b.shape(w))
    if len(node.inputs) == 3 and needs[2]:
        grads[2] = _conv_bias(b, dy)
    return grads


def _normalized_grad(b: GraphBuilder, x: str, dxhat: str, axes: list[int],
                     eps: float) -> tuple[str, str]:
    """(dx, xhat) for xhat = (x - mean) / sqrt(var + eps) with statistics over ``axes``:
    dx = inv * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))."""
    mean = b.reduce_mean(x, axes)
    xc = b.sub(x, mean)
    inv = b.reciprocal(b.sqrt(b.add(b.reduce_mean(b.mul(xc, xc), axes), eps)))
    xhat = b.mul(xc, inv)
    inner = b.sub(b.sub(dxhat, b.reduce_mean(dxhat, axes)),
                  b.mul(xhat, b.reduce_mean(b.mul(dxhat, xhat), axes)))
    return b.mul(inv, inner), xhat


def _channel(b: GraphBuilder, v: str, rank: int) -> str:
    return b.reshape(v, (1, -1) + (1,) * (rank - 2))


def _batch_norm(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    at: A.BatchNormAttrs = node.attrs
    x, scale, bias, mean, var = node.inputs
    dy = dys[0]
    if dy is None:
        return [None] * 5
    if at.training:  # one fused node; running statistics only feed the stat outputs
        if not any(needs[:3]):
            return [None] * 5
        fused = b.batch_norm_grad(x, dy, scale, at.eps)
        return [g if need else None for g, need in zip(fused, needs[:3], strict=True)] + \
            [None, None]
    rank = len(b.shape(x))
    axes = [0] + list(range(2, rank))
    grads: list[str | None] = [None] * 5
    if needs[2]:
        grads[2] = b.reduce_sum(dy, axes, keepdims=False)
    inv = b.reciprocal(b.sqrt(b.add(var, at.eps)))
    xc = b.sub(x, _channel(b, mean, rank))
    if needs[0]:
        grads[0] = b.mul(dy, _channel(b, b.mul(scale, inv), rank))
    if needs[1]:
        grads[1] = b.mul(b.reduce_sum(b.mul(dy, xc), axes, keepdims=False), inv)
    if needs[3]:
        grads[3] = b.neg(b.mul(b.reduce_sum(dy, axes, keepdims=False), b.mul(scale, inv)))
    if needs[4]:  # d/dvar (var + eps)^-1/2 = -1/2 inv^3
        inv3 = b.mul(b.mul(inv, inv), inv)
        dot = b.reduce_sum(b.mul(dy, xc), axes, keepdims=False)
        grads[4] = b.mul(b.mul(dot, b.mul(scale, inv3)), -0.5)
    return grads


def _layer_norm(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
    at: A.LayerNormAttrs = node.attrs
    x, scale, bias = node.inputs
    dy = dys[0]
    if dy is None:
        return [None] * 3
    rank = len(b.shape(x))
    axes = list(range(norm_axis(at.axis, rank), rank))
    dx, xhat = _normalized_grad(b, x, b.mul(dy, scale), axes, at.eps)
    return [dx if needs[0] else None,
            unbroadcast(b, b.mul(dy, xhat), b.shape(scale)) if needs[1] else None,
            unbroadcast(b, dy, b.shape(bias)) if needs[2] else None]


def _single(fn: Callable[[GraphBuilder, Node, str], str]) -> Callable[..., Grads]:
    def rule(b: GraphBuilder, node: Node, dys: Dys, needs: Needs) -> Grads:
        return [fn(b, node, dys[0]) if dys[0] is not None and needs[0] else None]
    return rule


def _softmax(b: GraphBuilder, node: Node, dy: str) -> str:
    y, axis = node.outputs[0], node.attrs.axis
    return b.mul(y, b.sub(dy, b.reduce_sum(b.mul(dy, y), axis, keepdims=True)))


def _log_softmax(b: GraphBuilder, node: Node, dy: str) -> str:
    y, axis = node.outputs[0], node.attrs.axis
    return b.sub(dy, b.mul(b.exp(y), b.reduce_sum(dy, axis, keepdims=True)))


def _global_avg_pool(b: GraphBuilder, node: Node, dy: str) -> str:
    shape = b.shape(node.inputs[0])
    return b.expand(b.mul(dy, 1.0 / math.prod(shape[2:])), shape)


NN_VJP_RULES: dict[OpCode, Callable[..., Grads]] = {
    OpCode.MATMUL: _matmul,
    OpCode.GEMM: _gemm,
    OpCode.LINEAR: _linear,
    OpCode.CONV2D: _conv2d,
    OpCode.CONV_TRANSPOSE2D: _conv_transpose2d,
    OpCode.BATCH_NORM: _batch_norm,
    OpCode.LAYER_NORM: _layer_norm,
    OpCode.SOFTMAX: _single(_softmax),
    OpCode.LOG_SOFTMAX: _single(_log_softmax),
    OpCode.MAX_POOL2D: _single(lambda b, n, dy: b.max_pool2d_grad(n.inputs[0], dy, n.attrs)),
    OpCode.AVG_POOL2D: _single(lambda b, n, dy: b.avg_pool2d_grad(n.inputs[0], dy, n.attrs)),
    OpCode.GLOBAL_AVG_POOL: _single(_global_avg_pool),
}
