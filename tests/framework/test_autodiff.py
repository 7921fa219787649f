"""Autodiff: every VJP rule against central finite differences in float64, plus the sweep's
fan-out accumulation, zero gradients, error cases, and (when installed) PyTorch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from framework import FrameworkError, GraphBuilder, OpCode, interpret
from framework.attrs import PoolAttrs
from framework.autodiff import grad
from framework.vjp import VJP_RULES

RNG = np.random.default_rng(1)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


def _away_from(points: list[float], *shape: int) -> np.ndarray:
    """Normal samples at least 0.05 from each kink so finite differences stay smooth."""
    x = _normal(*shape)
    for p in points:
        close = np.abs(x - p) < 0.05
        x[close] = p + np.where(x[close] >= p, 0.1, -0.1)
    return x


Case = tuple[str, Callable[..., object], dict[str, np.ndarray]]

CASES: list[Case] = [
    ("relu", lambda b, x: b.relu(x), {"x": _away_from([0], 3, 4)}),
    ("leaky_relu", lambda b, x: b.leaky_relu(x, 0.1), {"x": _away_from([0], 3, 4)}),
    ("gelu", lambda b, x: b.gelu(x), {"x": _normal(3, 4)}),
    ("gelu_tanh", lambda b, x: b.gelu(x, "tanh"), {"x": _normal(3, 4)}),
    ("silu", lambda b, x: b.silu(x), {"x": _normal(3, 4)}),
    ("sigmoid", lambda b, x: b.sigmoid(x), {"x": _normal(3, 4)}),
    ("tanh", lambda b, x: b.tanh(x), {"x": _normal(3, 4)}),
    ("elu", lambda b, x: b.elu(x, 0.7), {"x": _away_from([0], 3, 4)}),
    ("selu", lambda b, x: b.selu(x), {"x": _away_from([0], 3, 4)}),
    ("softplus", lambda b, x: b.softplus(x), {"x": _normal(3, 4)}),
    ("clip", lambda b, x: b.clip(x, -0.5, 0.5), {"x": _away_from([-0.5, 0.5], 3, 4)}),
    ("exp", lambda b, x: b.exp(x), {"x": _normal(3, 4)}),
    ("log", lambda b, x: b.log(x), {"x": _positive(3, 4)}),
    ("sqrt", lambda b, x: b.sqrt(x), {"x": _positive(3, 4)}),
    ("neg", lambda b, x: b.neg(x), {"x": _normal(3, 4)}),
    ("abs", lambda b, x: b.abs(x), {"x": _away_from([0], 3, 4)}),
    ("erf", lambda b, x: b.erf(x), {"x": _normal(3, 4)}),
    ("reciprocal", lambda b, x: b.reciprocal(x), {"x": _positive(3, 4)}),
    ("cast", lambda b, x: b.cast(x, "float64"), {"x": _normal(3)}),
    ("identity", lambda b, x: b.identity(x), {"x": _normal(3)}),
    ("add", lambda b, x, y: b.add(x, y), {"x": _normal(2, 3, 4), "y": _normal(3, 1)}),
    ("sub", lambda b, x, y: b.sub(x, y), {"x": _normal(3, 1), "y": _normal(2, 3, 4)}),
    ("mul", lambda b, x, y: b.mul(x, y), {"x": _normal(2, 3, 4), "y": _normal(4)}),
    ("div", lambda b, x, y: b.div(x, y), {"x": _normal(2, 3), "y": _positive(2, 1)}),
    ("pow", lambda b, x, y: b.pow(x, y), {"x": _positive(2, 3), "y": _normal(3)}),
    ("prelu", lambda b, x, s: b.prelu(x, s), {"x": _away_from([0], 2, 3, 2, 2),
                                              "s": _normal(3, 1, 1)}),
    ("maximum", lambda b, x, y: b.maximum(x, y), {"x": _normal(2, 3), "y": _normal(3)}),
    ("minimum", lambda b, x, y: b.minimum(x, y), {"x": _normal(2, 3), "y": _normal(2, 1)}),
    ("where", lambda b, c, x, y: b.where(c, x, y),
     {"c": RNG.random((2, 3)) > 0.5, "x": _normal(2, 3), "y": _normal(3)}),
    ("matmul", lambda b, x, y: b.matmul(x, y), {"x": _normal(2, 1, 3, 4), "y": _normal(5, 4, 2)}),
    ("matmul_vec", lambda b, x, y: b.matmul(x, y), {"x": _normal(4), "y": _normal(2, 4, 3)}),
    ("gemm", lambda b, x, y, c: b.gemm(x, y, c, 0.5, 2.0, False, False),
     {"x": _normal(3, 4), "y": _normal(4, 2), "c": _normal(2)}),
    ("gemm_tt", lambda b, x, y: b.gemm(x, y, alpha=1.5, trans_a=True, trans_b=True),
     {"x": _normal(4, 3), "y": _normal(2, 4)}),
    ("gemm_ta", lambda b, x, y: b.gemm(x, y, trans_a=True),
     {"x": _normal(4, 3), "y": _normal(4, 2)}),
    ("linear", lambda b, x, w, c: b.linear(x, w, c),
     {"x": _normal(2, 3, 4), "w": _normal(5, 4), "c": _normal(5)}),
    ("conv2d", lambda b, x, w, c: b.conv2d(x, w, c, (2, 1), (1, 0, 2, 1), 1, 2),
     {"x": _normal(2, 4, 5, 5), "w": _normal(4, 2, 3, 3), "c": _normal(4)}),
    ("conv2d_dilated", lambda b, x, w: b.conv2d(x, w, None, 2, 1, 2),
     {"x": _normal(1, 2, 6, 6), "w": _normal(3, 2, 2, 2)}),
    ("conv2d_depthwise", lambda b, x, w: b.conv2d(x, w, None, 2, 1, 1, 3),
     {"x": _normal(2, 3, 5, 4), "w": _normal(3, 1, 3, 3)}),
    ("conv_transpose2d", lambda b, x, w, c: b.conv_transpose2d(x, w, c, 2, (1, 0, 0, 1), 1, 1, 2),
     {"x": _normal(2, 4, 3, 3), "w": _normal(4, 3, 3, 2), "c": _normal(6)}),
    ("batch_norm", lambda b, *v: b.batch_norm(*v, eps=1e-3),
     {"x": _normal(3, 2, 2, 2), "s": _normal(2), "c": _normal(2), "m": _normal(2),
      "v": _positive(2)}),
    ("batch_norm_train", lambda b, x, s, c, m, v: b.batch_norm(x, s, c, m, v, training=True)[0],
     {"x": _normal(3, 2, 2, 2), "s": _normal(2), "c": _normal(2), "m": _normal(2),
      "v": _positive(2)}),
    ("layer_norm", lambda b, x, s, c: b.layer_norm(x, s, c, axis=1),
     {"x": _normal(2, 3, 4), "s": _normal(3, 4), "c": _normal(4)}),
    ("softmax", lambda b, x: b.softmax(x, axis=1), {"x": _normal(2, 4, 3)}),
    ("log_softmax", lambda b, x: b.log_softmax(x), {"x": _normal(2, 5)}),
    ("max_pool2d", lambda b, x: b.max_pool2d(x, 3, 2, 1, ceil_mode=True),
     {"x": _normal(2, 2, 6, 5)}),
    ("avg_pool2d", lambda b, x: b.avg_pool2d(x, (3, 2), (2, 1), (1, 0, 0, 1), 1, True, True),
     {"x": _normal(2, 2, 5, 5)}),
    ("global_avg_pool", lambda b, x: b.global_avg_pool(x), {"x": _normal(2, 3, 2, 3)}),
    ("reshape", lambda b, x: b.reshape(x, (3, -1)), {"x": _normal(2, 3, 2)}),
    ("flatten", lambda b, x: b.flatten(x, 2), {"x": _normal(2, 3, 2)}),
    ("transpose", lambda b, x: b.transpose(x, (2, 0, 1)), {"x": _normal(2, 3, 4)}),
    ("concat", lambda b, x, y: b.concat([x, y, x], 1), {"x": _normal(2, 1), "y": _normal(2, 3)}),
    ("split", lambda b, x: b.split(x, [1, 2, 1], 1)[::2], {"x": _normal(2, 4)}),
    ("slice", lambda b, x: b.slice(x, [1, -1], [100, 0], [1, 2], [2, -2]),
     {"x": _normal(2, 6, 5)}),
    ("pad", lambda b, x: b.pad(x, [1, 0, 2, 3], value=1.5), {"x": _normal(2, 3)}),
    ("pad_reflect", lambda b, x: b.pad(x, [2, 0, 1, 3], "reflect"), {"x": _normal(4, 5)}),
    ("pad_edge", lambda b, x: b.pad(x, [0, 0, 1, 2, 3, 0], "edge"), {"x": _normal(2, 3, 2)}),
    ("gather", lambda b, x, i: b.gather(x, i, 1),
     {"x": _normal(2, 5, 3), "i": np.array([[0, 4], [4, 2]])}),
    ("embedding", lambda b, x, i: b.embedding(x, i),
     {"x": _normal(6, 3), "i": np.array([[1, 1, 5], [0, 3, 1]])}),
    ("expand", lambda b, x: b.expand(x, (2, 3, 4)), {"x": _normal(3, 1)}),
    ("reduce_sum", lambda b, x: b.reduce_sum(x, [0, 2]), {"x": _normal(2, 3, 4)}),
    ("reduce_mean", lambda b, x: b.reduce_mean(x, 1, keepdims=False), {"x": _normal(2, 3, 4)}),
    ("reduce_max", lambda b, x: b.reduce_max(x, -1), {"x": _normal(2, 3, 4)}),
]


def _loss_graph(build: Callable[..., object], inputs: dict[str, np.ndarray]):
    """Graph computing sum_k <out_k, R_k> for the op's outputs (random R: a generic cotangent)."""
    b = GraphBuilder("case")
    names = [b.input(k, v.shape, str(v.dtype)) for k, v in inputs.items()]
    outs = build(b, *names)
    outs = [outs] if isinstance(outs, str) else list(outs)
    terms = [b.reduce_sum(b.mul(o, b.constant(RNG.standard_normal(b.shape(o)))), keepdims=False)
             for o in outs]
    loss = terms[0]
    for t in terms[1:]:
        loss = b.add(loss, t)
    b.output(loss)
    return b.build(), loss


def _check_gradients(build, inputs, eps=1e-6, directions=3) -> None:
    g, loss = _loss_graph(build, inputs)
    wrt = [k for k, v in inputs.items() if v.dtype.kind == "f"]
    gg = grad(g, loss, wrt)
    assert gg.outputs == (loss, *[f"grad:{w}" for w in wrt])
    got = interpret(gg, inputs)

    def f(feed):
        return float(interpret(g, feed)[loss])

    for w in wrt:
        assert got[f"grad:{w}"].shape == inputs[w].shape
        for _ in range(directions):
            v = RNG.standard_normal(inputs[w].shape)
            plus = dict(inputs, **{w: inputs[w] + eps * v})
            minus = dict(inputs, **{w: inputs[w] - eps * v})
            numeric = (f(plus) - f(minus)) / (2 * eps)
            analytic = float(np.sum(got[f"grad:{w}"] * v))
            assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6), w


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_vjp_matches_finite_differences(case: Case) -> None:
    _, build, inputs = case
    _check_gradients(build, inputs)


def test_every_vjp_rule_is_checked() -> None:
    covered = set()
    for _, build, inputs in CASES:
        g, _ = _loss_graph(build, inputs)
        covered |= {n.op for n in g.nodes}
    missing = set(VJP_RULES) - covered
    assert not missing, f"VJP rules without a finite-difference case: {sorted(map(str, missing))}"


def test_fan_out_accumulates_and_unused_wrt_gets_zero() -> None:
    b = GraphBuilder()
    x = b.input("x", (3,), "float64")
    z = b.input("z", (2,), "float64")
    y = b.add(b.mul(x, x), b.exp(x))  # x used three times
    loss = b.reduce_sum(b.mul(y, x), keepdims=False)
    b.output(loss, z)
    gg = grad(b.build(), loss, ["x", "z"])
    xv = np.array([0.5, -1.0, 2.0])
    out = interpret(gg, {"x": xv, "z": np.zeros(2)})
    np.testing.assert_allclose(out["grad:x"], 3 * xv ** 2 + np.exp(xv) * (1 + xv))
    np.testing.assert_array_equal(out["grad:z"], np.zeros(2))


def test_gradient_through_zero_gradient_ops_and_errors() -> None:
    b = GraphBuilder()
    x = b.input("x", (4,), "float64")
    mask = b.cast(b.greater(x, 0.0), "float64")
    loss = b.reduce_sum(b.mul(mask, x), keepdims=False)
    b.output(loss)
    g = b.build()
    out = interpret(grad(g, loss, ["x"]), {"x": np.array([1.0, -1.0, 2.0, -3.0])})
    np.testing.assert_array_equal(out["grad:x"], [1.0, 0.0, 1.0, 0.0])
    with pytest.raises(FrameworkError, match="cannot differentiate with respect to 'ids'"):
        b2 = GraphBuilder()
        ids = b2.input("ids", (2,), "int64")
        b2.output(b2.cast(ids, "float32"))
        grad(b2.build(), b2.build().outputs[0], ["ids"])
    b3 = GraphBuilder()
    x3 = b3.input("x", (1, 1, 4, 4), "float64")
    dy = b3.input("dy", (1, 1, 2, 2), "float64")
    gp = b3.node(OpCode.MAX_POOL2D_GRAD, [x3, dy], PoolAttrs((2, 2), (2, 2)))[0]
    l3 = b3.reduce_sum(gp, keepdims=False)
    b3.output(l3)
    with pytest.raises(FrameworkError, match=r"max_pool2d_grad\) is on the path .* no VJP"):
        grad(b3.build(), l3, ["dy"])


def test_against_pytorch_when_installed() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed here")
    x = _normal(2, 3, 6, 6)
    w = _normal(4, 3, 3, 3)
    b = GraphBuilder()
    xn, wn = b.input("x", x.shape, "float64"), b.input("w", w.shape, "float64")
    y = b.max_pool2d(b.gelu(b.conv2d(xn, wn, stride=2, padding=1)), 2, ceil_mode=True)
    loss = b.reduce_sum(b.mul(y, y), keepdims=False)
    b.output(loss)
    out = interpret(grad(b.build(), loss, ["x", "w"]), {"x": x, "w": w})
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(
        torch.nn.functional.gelu(torch.nn.functional.conv2d(tx, tw, stride=2, padding=1)), 2,
        ceil_mode=True)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(out["grad:x"], tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(out["grad:w"], tw.grad.numpy(), rtol=1e-8, atol=1e-10)
