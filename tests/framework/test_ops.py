"""Elementwise, data-movement and reduction ops against independent formulations (Python's math
module applied per element, NumPy indexing), and the FLOP / parameter counters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from framework import FrameworkError, GraphBuilder, graph_flops, graph_params, interpret

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 5))


def _run(build, **inputs):
    b = GraphBuilder()
    names = [b.input(k, np.shape(v), str(np.asarray(v).dtype)) for k, v in inputs.items()]
    out = build(b, *names)
    outs = [out] if isinstance(out, str) else list(out)
    b.output(*outs)
    g = b.build()
    res = interpret(g, inputs)
    return res[outs[0]] if isinstance(out, str) else [res[o] for o in outs]


def _gelu_tanh(v: float) -> float:
    return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))


SELU_A, SELU_G = 1.6732632423543772, 1.0507009873554805
UNARY = [
    ("relu", lambda b, x: b.relu(x), lambda v: max(v, 0.0)),
    ("leaky_relu", lambda b, x: b.leaky_relu(x, 0.2), lambda v: v if v >= 0 else 0.2 * v),
    ("gelu", lambda b, x: b.gelu(x), lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))),
    ("gelu_tanh", lambda b, x: b.gelu(x, "tanh"), _gelu_tanh),
    ("silu", lambda b, x: b.silu(x), lambda v: v / (1 + math.exp(-v))),
    ("sigmoid", lambda b, x: b.sigmoid(x), lambda v: 1 / (1 + math.exp(-v))),
    ("tanh", lambda b, x: b.tanh(x), math.tanh),
    ("elu", lambda b, x: b.elu(x, 0.5), lambda v: v if v > 0 else 0.5 * (math.exp(v) - 1)),
    ("selu", lambda b, x: b.selu(x),
     lambda v: SELU_G * (v if v > 0 else SELU_A * (math.exp(v) - 1))),
    ("softplus", lambda b, x: b.softplus(x), lambda v: math.log(1 + math.exp(v))),
    ("clip", lambda b, x: b.clip(x, -0.3, 0.6), lambda v: min(max(v, -0.3), 0.6)),
    ("clip_low", lambda b, x: b.clip(x, min=0.1), lambda v: max(v, 0.1)),
    ("exp", lambda b, x: b.exp(x), math.exp),
    ("log", lambda b, x: b.log(b.abs(x)), lambda v: math.log(abs(v))),
    ("sqrt", lambda b, x: b.sqrt(b.abs(x)), lambda v: math.sqrt(abs(v))),
    ("neg", lambda b, x: b.neg(x), lambda v: -v),
    ("erf", lambda b, x: b.erf(x), math.erf),
    ("reciprocal", lambda b, x: b.reciprocal(x), lambda v: 1 / v),
    ("identity", lambda b, x: b.identity(x), lambda v: v),
]


@pytest.mark.parametrize("name,build,scalar", UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_scalar_formula(name, build, scalar) -> None:
    got = _run(build, x=X)
    want = np.vectorize(scalar)(X)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_stable_sigmoid_and_softplus_for_large_inputs() -> None:
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    np.testing.assert_allclose(_run(lambda b, v: b.sigmoid(v), x=x), [0, math.exp(-50), 0.5,
                                                                       1, 1], atol=1e-300)
    np.testing.assert_allclose(_run(lambda b, v: b.softplus(v), x=x), [0, math.log1p(
        math.exp(-50)), math.log(2), 50, 1000], rtol=1e-12)


BINARY = [
    ("add", lambda b, x, y: b.add(x, y), lambda u, v: u + v),
    ("sub", lambda b, x, y: b.sub(x, y), lambda u, v: u - v),
    ("mul", lambda b, x, y: b.mul(x, y), lambda u, v: u * v),
    ("div", lambda b, x, y: b.div(x, y), lambda u, v: u / v),
    ("pow", lambda b, x, y: b.pow(b.abs(x), y), lambda u, v: abs(u) ** v),
    ("prelu", lambda b, x, y: b.prelu(x, y), lambda u, v: u if u >= 0 else v * u),
    ("maximum", lambda b, x, y: b.maximum(x, y), max),
    ("minimum", lambda b, x, y: b.minimum(x, y), min),
    ("greater", lambda b, x, y: b.greater(x, y), lambda u, v: u > v),
    ("less", lambda b, x, y: b.less(x, y), lambda u, v: u < v),
    ("equal", lambda b, x, y: b.equal(x, b.maximum(x, y)), lambda u, v: u >= v),
]


@pytest.mark.parametrize("name,build,scalar", BINARY, ids=[u[0] for u in BINARY])
def test_binary_broadcasts_like_numpy(name, build, scalar) -> None:
    y = RNG.standard_normal((5,))
    got = _run(build, x=X, y=y)
    want = np.array([[scalar(X[i, j], y[j]) for j in range(5)] for i in range(3)])
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-12)


def test_python_numbers_as_operands_and_where() -> None:
    np.testing.assert_allclose(_run(lambda b, x: b.sub(1.0, b.mul(x, 2)), x=X), 1 - 2 * X)
    cond = X > 0
    np.testing.assert_array_equal(_run(lambda b, c, x: b.where(c, x, -1.0), c=cond, x=X),
                                  np.where(cond, X, -1.0))
    ints = np.array([7, -7, 9], np.int64)
    np.testing.assert_array_equal(_run(lambda b, v: b.div(v, 2), v=ints), [3, -3, 4])


def test_cast_and_float16_rounding() -> None:
    got = _run(lambda b, x: b.cast(x, "int32"), x=np.array([1.7, -1.7]))
    assert got.dtype == np.int32 and list(got) == [1, -1]
    h = _run(lambda b, x: b.add(x, x), x=np.array([1.0001], np.float16))
    assert h.dtype == np.float16


def test_data_movement_matches_numpy() -> None:
    x = RNG.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(_run(lambda b, v: b.reshape(v, (4, -1)), v=x), x.reshape(4, 6))
    np.testing.assert_array_equal(_run(lambda b, v: b.flatten(v, -1), v=x), x.reshape(6, 4))
    np.testing.assert_array_equal(_run(lambda b, v: b.flatten(v, 0), v=x), x.reshape(1, 24))
    np.testing.assert_array_equal(_run(lambda b, v: b.transpose(v, (1, 2, 0)), v=x),
                                  x.transpose(1, 2, 0))
    np.testing.assert_array_equal(_run(lambda b, v: b.concat([v, v], -1), v=x),
                                  np.concatenate([x, x], -1))
    parts = _run(lambda b, v: b.split(v, [1, 3], 2), v=x)
    np.testing.assert_array_equal(parts[1], x[:, :, 1:])
    np.testing.assert_array_equal(
        _run(lambda b, v: b.slice(v, [2, 0, -1], [0, 10, -100], [1, 2, 0], [-1, 3, -1]), v=x),
        x[::-1, 2:0:-1, 0:10:3])
    np.testing.assert_array_equal(_run(lambda b, v: b.expand(v, (2, 2, 3, 4)), v=x),
                                  np.broadcast_to(x, (2, 2, 3, 4)))


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_modes(mode: str) -> None:
    x = RNG.standard_normal((3, 4))
    got = _run(lambda b, v: b.pad(v, [1, 2, 2, 0], mode, 0.5), v=x)
    kwargs = {"constant_values": 0.5} if mode == "constant" else {}
    np.testing.assert_array_equal(got, np.pad(x, ((1, 2), (2, 0)), mode=mode, **kwargs))


def test_gather_embedding_one_hot_fill() -> None:
    table = RNG.standard_normal((6, 3))
    ids = np.array([[0, 5], [2, -1]], np.int64)
    np.testing.assert_array_equal(_run(lambda b, t, i: b.embedding(t, i), t=table, i=ids),
                                  table[ids])
    cols = np.array([2, 0, -3], np.int64)
    np.testing.assert_array_equal(_run(lambda b, t, i: b.gather(t, i, 1), t=table, i=cols),
                                  np.take(table, cols, axis=1))
    with pytest.raises(FrameworkError, match="gather index out of range"):
        _run(lambda b, t, i: b.embedding(t, i), t=table, i=np.array([6], np.int64))
    hot = _run(lambda b, i: b.one_hot(i, 4, axis=0), i=np.array([1, 3, -1], np.int64))
    np.testing.assert_array_equal(hot, np.eye(4)[[1, 3, 3]].T)
    b = GraphBuilder()
    b.output(b.fill((2, 2), 3.0, "int64", name="f"))
    out = interpret(b.build(), {})["f"]
    assert out.dtype == np.int64 and (out == 3).all()


def test_reductions_and_argmax() -> None:
    x = RNG.standard_normal((2, 3, 4))
    np.testing.assert_allclose(_run(lambda b, v: b.reduce_sum(v, [0, -1]), v=x),
                               x.sum(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(_run(lambda b, v: b.reduce_mean(v, keepdims=False), v=x), x.mean())
    np.testing.assert_allclose(_run(lambda b, v: b.reduce_max(v, 1, False), v=x), x.max(axis=1))
    np.testing.assert_array_equal(_run(lambda b, v: b.argmax(v, 2), v=x), x.argmax(axis=2))
    np.testing.assert_allclose(_run(lambda b, v: b.softmax(v, 0), v=x),
                               np.exp(x) / np.exp(x).sum(0, keepdims=True))
    np.testing.assert_allclose(_run(lambda b, v: b.log_softmax(v, 1), v=x),
                               x - np.log(np.exp(x).sum(1, keepdims=True)))


def test_shape_rule_errors_name_the_problem() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4, 4))
    w = b.input("w", (5, 2, 3, 3))
    with pytest.raises(FrameworkError, match="need weight\\[1\\] == C/groups"):
        b.conv2d(x, w)
    with pytest.raises(FrameworkError, match="cannot reshape"):
        b.reshape(x, (5, 5))
    with pytest.raises(FrameworkError, match="split sizes"):
        b.split(x, [1, 1], axis=1)
    with pytest.raises(FrameworkError, match="larger than padded input"):
        b.max_pool2d(x, 5)
    with pytest.raises(FrameworkError, match="operand dtypes differ"):
        b.add(x, b.input("i", (4,), "int64"))
    with pytest.raises(FrameworkError, match="needs a floating-point operand"):
        b.exp(b.input("j", (4,), "int32"))


def test_flops_and_params() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 8, 16, 16))
    w = b.constant(np.zeros((16, 4, 3, 3), np.float32), "w")  # groups=2
    y = b.conv2d(x, w, b.constant(np.zeros(16, np.float32), "bias"), stride=2, padding=1,
                 groups=2)
    ones = np.ones(16, np.float32)
    y = b.batch_norm(y, b.constant(ones, "s"), b.constant(ones, "c"), b.constant(ones, "m"),
                     b.constant(ones, "v"))
    y = b.relu(y)
    y = b.flatten(b.global_avg_pool(y))
    y = b.linear(y, b.constant(np.zeros((10, 16), np.float32), "fc"))
    b.output(b.matmul(y, b.constant(np.zeros((10, 7), np.float32), "m2")))
    g = b.build()
    conv = 2 * (2 * 16 * 8 * 8) * 4 * 3 * 3
    bn = 2 * (2 * 16 * 8 * 8)
    relu = 2 * 16 * 8 * 8
    gap = 2 * 16 * 8 * 8
    assert graph_flops(g) == conv + bn + relu + gap + 2 * 2 * 10 * 16 + 2 * 2 * 7 * 10
    # running mean/var are buffers, not parameters (PyTorch's count)
    assert graph_params(g) == 16 * 4 * 9 + 16 + 16 + 16 + 10 * 16 + 10 * 7
