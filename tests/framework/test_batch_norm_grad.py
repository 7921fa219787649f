"""The fused training batch-norm backward (batch_norm_grad): the VJP of a training BATCH_NORM is
one node, whose reference semantics match the primitive formulation it replaced and finite
differences; shape errors and second-order differentiation are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from framework import FrameworkError, GraphBuilder, OpCode, grad, interpret

RNG = np.random.default_rng(7)
SHAPE = (3, 4, 5, 2)


def _primitive_grads(x: np.ndarray, dy: np.ndarray, scale: np.ndarray, eps: float):
    """The formulation the VJP used before the fused op (statistics re-derived step by step)."""
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    inv = 1.0 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    xhat = xc * inv
    dxhat = dy * scale.reshape(1, -1, 1, 1)
    inner = dxhat - dxhat.mean(axis=axes, keepdims=True) \
        - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
    return inv * inner, (dy * xhat).sum(axis=axes), dy.sum(axis=axes)


def _bn_graph():
    b = GraphBuilder("bn")
    x, s, c = b.input("x", SHAPE, "float64"), b.input("s", (4,), "float64"), \
        b.input("c", (4,), "float64")
    m, v = b.constant(np.zeros(4)), b.constant(np.ones(4))
    y = b.batch_norm(x, s, c, m, v, eps=1e-3, training=True)[0]
    loss = b.reduce_sum(b.mul(y, b.constant(RNG.standard_normal(SHAPE))), keepdims=False)
    b.output(loss)
    return b.build(), loss


def test_reference_matches_the_primitive_formulation() -> None:
    x, dy = RNG.standard_normal(SHAPE) * 2 + 0.5, RNG.standard_normal(SHAPE)
    scale = RNG.standard_normal(4)
    b = GraphBuilder()
    names = [b.input(k, v.shape, "float64") for k, v in (("x", x), ("dy", dy), ("s", scale))]
    b.output(*b.batch_norm_grad(*names, eps=1e-3))
    g = b.build()
    got = interpret(g, {"x": x, "dy": dy, "s": scale})
    for name, want in zip(g.outputs, _primitive_grads(x, dy, scale, 1e-3), strict=True):
        np.testing.assert_allclose(got[name], want, rtol=1e-10, atol=1e-12)


def test_training_vjp_is_one_fused_node_matching_finite_differences() -> None:
    g, loss = _bn_graph()
    gg = grad(g, loss, ["x", "s", "c"])
    ops = [n.op for n in gg.nodes]
    assert ops.count(OpCode.BATCH_NORM_GRAD) == 1
    assert OpCode.REDUCE_MEAN not in ops and OpCode.SQRT not in ops
    feeds = {"x": RNG.standard_normal(SHAPE), "s": RNG.standard_normal(4),
             "c": RNG.standard_normal(4)}
    got = interpret(gg, feeds)
    eps = 1e-6
    for w in ("x", "s", "c"):
        v = RNG.standard_normal(feeds[w].shape)
        plus = interpret(g, dict(feeds, **{w: feeds[w] + eps * v}))[loss]
        minus = interpret(g, dict(feeds, **{w: feeds[w] - eps * v}))[loss]
        numeric = (float(plus) - float(minus)) / (2 * eps)
        assert float(np.sum(got[f"grad:{w}"] * v)) == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_shape_errors_and_second_order_are_refused_by_name() -> None:
    b = GraphBuilder()
    x, dy, s = b.input("x", SHAPE), b.input("dy", (3, 4, 5, 1)), b.input("s", (4,))
    with pytest.raises(FrameworkError, match=r"batch_norm_grad: dy \(3, 4, 5, 1\) does not"):
        b.batch_norm_grad(x, dy, s)
    b = GraphBuilder()
    x, dy, s = b.input("x", SHAPE, "float64"), b.input("dy", SHAPE, "float64"), \
        b.input("s", (4,), "float64")
    with pytest.raises(FrameworkError, match=r"scale must be \(4,\)"):
        b.batch_norm_grad(x, dy, b.input("s3", (3,), "float64"))
    loss = b.reduce_sum(b.batch_norm_grad(x, dy, s)[0], keepdims=False)
    b.output(loss)
    with pytest.raises(FrameworkError, match=r"batch_norm_grad\) is on the path .* no VJP"):
        grad(b.build(), loss, ["dy"])
