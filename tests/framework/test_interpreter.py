"""Reference interpreter: convolutions, pooling, norms and matmuls against naive loop
formulations written independently of framework/evaluate_nn.py, plus input checking."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from framework import FrameworkError, GraphBuilder, interpret

RNG = np.random.default_rng(0)


def _run(build, **inputs: np.ndarray) -> np.ndarray:
    b = GraphBuilder()
    names = [b.input(k, v.shape, str(v.dtype)) for k, v in inputs.items()]
    b.output(build(b, *names))
    return interpret(b.build(), inputs)[b.build().outputs[0]]


def naive_conv(x, w, bias, stride, pads, dilation, groups):
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    pt, pl, pb, pr = pads
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    ho = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, co, ho, wo))
    per = co // groups
    for b_, o, i, j in itertools.product(range(n), range(co), range(ho), range(wo)):
        g = o // per
        acc = 0.0
        for ci, p, q in itertools.product(range(cg), range(kh), range(kw)):
            acc += (w[o, ci, p, q]
                    * xp[b_, g * cg + ci, i * stride[0] + p * dilation[0],
                         j * stride[1] + q * dilation[1]])
        y[b_, o, i, j] = acc + (bias[o] if bias is not None else 0.0)
    return y


@pytest.mark.parametrize("stride,pads,dilation,groups,cin,cout", [
    ((1, 1), (0, 0, 0, 0), (1, 1), 1, 3, 4),
    ((2, 2), (1, 1, 1, 1), (1, 1), 1, 3, 4),
    ((2, 1), (1, 0, 2, 1), (1, 1), 1, 2, 3),   # asymmetric pads, mixed strides
    ((1, 1), (2, 2, 2, 2), (2, 2), 1, 2, 2),   # dilation
    ((1, 1), (1, 1, 1, 1), (1, 1), 2, 4, 6),   # grouped
    ((2, 2), (1, 1, 1, 1), (1, 1), 4, 4, 4),   # depthwise
    ((1, 1), (1, 1, 1, 1), (1, 1), 4, 4, 8),   # depthwise with multiplier 2
])
def test_conv2d_matches_naive_loop(stride, pads, dilation, groups, cin, cout) -> None:
    x = RNG.standard_normal((2, cin, 6, 7))
    w = RNG.standard_normal((cout, cin // groups, 3, 3))
    bias = RNG.standard_normal(cout)
    got = _run(lambda b, x_, w_, c_: b.conv2d(x_, w_, c_, stride, pads, dilation, groups),
               x=x, w=w, c=bias)
    np.testing.assert_allclose(got, naive_conv(x, w, bias, stride, pads, dilation, groups),
                               rtol=1e-10, atol=1e-10)


def naive_conv_transpose(x, w, stride, pads, out_pad, dilation, groups):
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    cig = cin // groups
    fh = (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1 + out_pad[0]
    fw = (wd - 1) * stride[1] + dilation[1] * (kw - 1) + 1 + out_pad[1]
    y = np.zeros((n, cog * groups, fh, fw))
    for b_, ci, i, j, o, p, q in itertools.product(range(n), range(cin), range(h), range(wd),
                                                   range(cog), range(kh), range(kw)):
        g = ci // cig
        y[b_, g * cog + o, i * stride[0] + p * dilation[0], j * stride[1] + q * dilation[1]] += (
            x[b_, ci, i, j] * w[ci, o, p, q])
    pt, pl, pb, pr = pads
    return y[:, :, pt:fh - pb, pl:fw - pr]


@pytest.mark.parametrize("stride,pads,out_pad,dilation,groups", [
    ((1, 1), (0, 0, 0, 0), (0, 0), (1, 1), 1),
    ((2, 2), (1, 1, 1, 1), (1, 1), (1, 1), 1),
    ((2, 3), (0, 1, 1, 0), (1, 2), (1, 1), 2),
    ((1, 1), (1, 1, 1, 1), (0, 0), (2, 1), 1),
])
def test_conv_transpose2d_matches_naive_scatter(stride, pads, out_pad, dilation, groups) -> None:
    x = RNG.standard_normal((2, 4, 3, 4))
    w = RNG.standard_normal((4, 3, 3, 2))
    got = _run(lambda b, x_, w_: b.conv_transpose2d(x_, w_, None, stride, pads, out_pad, dilation,
                                                    groups), x=x, w=w)
    want = naive_conv_transpose(x, w, stride, pads, out_pad, dilation, groups)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def naive_pool(x, kind, kernel, stride, pads, dilation, ceil_mode, count_include_pad):
    """PyTorch's pooling loops (aten/src/ATen/native/cpu AvgPoolKernel / MaxPoolKernel)."""
    n, c, h, w = x.shape
    pt, pl, pb, pr = pads

    def out_size(size, k, s, p0, p1, d):
        span = d * (k - 1) + 1
        if ceil_mode:
            o = math.ceil((size + p0 + p1 - span) / s) + 1
            if (o - 1) * s >= size + p0:
                o -= 1
            return o
        return (size + p0 + p1 - span) // s + 1

    ho = out_size(h, kernel[0], stride[0], pt, pb, dilation[0])
    wo = out_size(w, kernel[1], stride[1], pl, pr, dilation[1])
    y = np.zeros((n, c, ho, wo))
    for i, j in itertools.product(range(ho), range(wo)):
        rows = [i * stride[0] - pt + p * dilation[0] for p in range(kernel[0])]
        cols = [j * stride[1] - pl + q * dilation[1] for q in range(kernel[1])]
        inside = [(r, s) for r in rows for s in cols if 0 <= r < h and 0 <= s < w]
        vals = np.stack([x[:, :, r, s] for r, s in inside], axis=-1)
        if kind == "max":
            y[:, :, i, j] = vals.max(axis=-1)
        else:
            if count_include_pad:
                padded = [(r, s) for r in rows for s in cols
                          if -pt <= r < h + pb and -pl <= s < w + pr]
                div = len(padded)
            else:
                div = len(inside)
            y[:, :, i, j] = vals.sum(axis=-1) / div
    return y


POOL_CASES = [
    ((2, 2), (2, 2), (0, 0, 0, 0), (1, 1), False, False),
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), False, False),
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True, False),
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True, True),
    ((2, 3), (2, 1), (0, 1, 1, 0), (1, 1), True, True),
    ((2, 2), (1, 2), (1, 0, 0, 1), (2, 2), False, False),
    ((3, 2), (3, 2), (0, 0, 0, 0), (1, 1), True, False),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride,pads,dilation,ceil_mode,include_pad", POOL_CASES)
def test_pooling_matches_naive_loop(kind, kernel, stride, pads, dilation, ceil_mode,
                                    include_pad) -> None:
    x = RNG.standard_normal((2, 3, 7, 8))
    if kind == "max":
        fn = lambda b, x_: b.max_pool2d(x_, kernel, stride, pads, dilation, ceil_mode)  # noqa: E731
    else:
        fn = lambda b, x_: b.avg_pool2d(x_, kernel, stride, pads, dilation, ceil_mode,  # noqa: E731
                                        include_pad)
    got = _run(fn, x=x)
    want = naive_pool(x, kind, kernel, stride, pads, dilation, ceil_mode, include_pad)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_global_avg_pool_and_matmul_family() -> None:
    x = RNG.standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(_run(lambda b, x_: b.global_avg_pool(x_), x=x),
                               x.mean(axis=(2, 3), keepdims=True))
    a, c = RNG.standard_normal((3, 1, 4, 5)), RNG.standard_normal((2, 5, 6))
    want = np.stack([np.stack([a[i, 0] @ c[j] for j in range(2)]) for i in range(3)])
    np.testing.assert_allclose(_run(lambda b, a_, c_: b.matmul(a_, c_), a=a, c=c), want)
    v = RNG.standard_normal(5)
    np.testing.assert_allclose(_run(lambda b, a_, v_: b.matmul(a_, v_), a=a, v=v), a @ v)
    ga, gb, gc = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 5)), RNG.standard_normal(4)
    got = _run(lambda b, p, q, r: b.gemm(p, q, r, 0.5, 2.0, trans_a=True, trans_b=True),
               p=ga, q=gb, r=gc)
    np.testing.assert_allclose(got, 0.5 * ga.T @ gb.T + 2.0 * gc)
    x2, w2, b2 = RNG.standard_normal((2, 3, 5)), RNG.standard_normal((4, 5)), RNG.standard_normal(4)
    np.testing.assert_allclose(_run(lambda b, p, q, r: b.linear(p, q, r), x=x2, w=w2, c=b2),
                               np.einsum("bti,oi->bto", x2, w2) + b2)


def test_batch_norm_inference_and_training() -> None:
    x = RNG.standard_normal((4, 3, 2, 2))
    scale, bias = RNG.standard_normal(3), RNG.standard_normal(3)
    mean, var = RNG.standard_normal(3), RNG.random(3) + 0.5
    got = _run(lambda b, *v: b.batch_norm(*v, eps=1e-3), x=x, s=scale, c=bias, m=mean, v=var)
    for ch in range(3):
        want = (x[:, ch] - mean[ch]) / math.sqrt(var[ch] + 1e-3) * scale[ch] + bias[ch]
        np.testing.assert_allclose(got[:, ch], want, rtol=1e-12)
    b = GraphBuilder()
    names = [b.input(k, v.shape, "float64") for k, v in
             dict(x=x, s=scale, c=bias, m=mean, v=var).items()]
    y, new_m, new_v = b.batch_norm(*names, eps=1e-3, momentum=0.8, training=True)
    b.output(y, new_m, new_v)
    out = interpret(b.build(), dict(x=x, s=scale, c=bias, m=mean, v=var))
    bm = x.transpose(1, 0, 2, 3).reshape(3, -1).mean(axis=1)
    bv = x.transpose(1, 0, 2, 3).reshape(3, -1).var(axis=1)
    np.testing.assert_allclose(out[new_m], 0.8 * mean + 0.2 * bm)
    np.testing.assert_allclose(out[new_v], 0.8 * var + 0.2 * bv)
    np.testing.assert_allclose(out[y][:, 1], (x[:, 1] - bm[1]) / np.sqrt(bv[1] + 1e-3)
                               * scale[1] + bias[1])


def test_layer_norm_over_trailing_axes() -> None:
    x = RNG.standard_normal((2, 3, 4))
    s, c = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    got = _run(lambda b, *v: b.layer_norm(*v, axis=1, eps=1e-6), x=x, s=s, c=c)
    flat = x.reshape(2, 12)
    want = ((flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-6))
    np.testing.assert_allclose(got, want.reshape(2, 3, 4) * s + c, rtol=1e-10)


def test_float16_graph_computes_in_float32_and_rounds() -> None:
    x = (RNG.standard_normal((8, 64)) * 4).astype(np.float16)
    w = RNG.standard_normal((64, 16)).astype(np.float16)
    got = _run(lambda b, x_, w_: b.softmax(b.matmul(x_, w_)), x=x, w=w)
    assert got.dtype == np.float16
    ref = x.astype(np.float32) @ w.astype(np.float32)
    ref = ref.astype(np.float16).astype(np.float32)
    ref = np.exp(ref - ref.max(1, keepdims=True))
    np.testing.assert_allclose(got, (ref / ref.sum(1, keepdims=True)).astype(np.float16),
                               atol=1e-3)


def test_input_checking_messages() -> None:
    b = GraphBuilder("g")
    x = b.input("x", (2, 3))
    b.output(b.relu(x))
    g = b.build()
    with pytest.raises(FrameworkError, match=r"missing inputs \['x'\]"):
        interpret(g, {})
    with pytest.raises(FrameworkError, match=r"unexpected inputs \['y'\]"):
        interpret(g, {"x": np.zeros((2, 3), np.float32), "y": np.zeros(1)})
    with pytest.raises(FrameworkError, match=r"input 'x' has shape \(3, 2\), expected \(2, 3\)"):
        interpret(g, {"x": np.zeros((3, 2), np.float32)})
    with pytest.raises(FrameworkError, match="input 'x' has dtype float64, expected float32"):
        interpret(g, {"x": np.zeros((2, 3))})


def test_interpret_returns_intermediates_on_request() -> None:
    b = GraphBuilder()
    x = b.input("x", (3,))
    h = b.neg(x, name="h")
    b.output(b.exp(h))
    out = interpret(b.build(), {"x": np.ones(3, np.float32)}, outputs=["h"])
    np.testing.assert_allclose(out["h"], -np.ones(3))


# ----- randomised geometry (hypothesis): shape rules and evaluation agree with the loops -----


@given(st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(1, 2),
       st.sampled_from([1, 2]), st.integers(3, 7), st.integers(3, 7), st.integers(0, 2))
def test_conv2d_random_geometry(k, stride, pad, dil, groups, h, w, pad_extra) -> None:
    span = dil * (k - 1) + 1
    if h + 2 * pad < span or w + pad + pad_extra < span:
        return
    pads = (pad, pad_extra, pad, pad)
    x = RNG.standard_normal((1, 2 * groups, h, w))
    wt = RNG.standard_normal((2 * groups, 2, k, k))
    got = _run(lambda b, x_, w_: b.conv2d(x_, w_, None, stride, pads, dil, groups), x=x, w=wt)
    want = naive_conv(x, wt, None, (stride, stride), pads, (dil, dil), groups)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@given(st.sampled_from(["max", "avg"]), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.booleans(), st.booleans(), st.integers(3, 8))
def test_pool_random_geometry(kind, kh, kw, stride, pad, ceil_mode, include_pad, h) -> None:
    if pad > min(kh, kw) // 2:  # PyTorch's limit: padding at most half the kernel
        return
    x = RNG.standard_normal((1, 2, h, h + 1))
    at = dict(kernel=(kh, kw), stride=(stride, stride), padding=(pad,) * 4, dilation=1,
              ceil_mode=ceil_mode)
    if kind == "max":
        got = _run(lambda b, x_: b.max_pool2d(x_, **at), x=x)
    else:
        got = _run(lambda b, x_: b.avg_pool2d(x_, count_include_pad=include_pad, **at), x=x)
    want = naive_pool(x, kind, (kh, kw), (stride, stride), (pad,) * 4, (1, 1), ceil_mode,
                      include_pad)
    # an average of mixed-sign values can cancel to ~1e-5, where the two summation orders
    # differ by a few ulps of the addends: rtol alone fails there (1.003e-12 seen)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@given(st.lists(st.tuples(st.integers(-9, 9), st.integers(-9, 9),
                          st.sampled_from([-3, -2, -1, 1, 2, 3])), min_size=3, max_size=3))
def test_slice_random_matches_python_indexing(spec) -> None:
    x = RNG.standard_normal((4, 5, 6))
    starts, ends, steps = zip(*spec, strict=True)
    got = _run(lambda b, x_: b.slice(x_, starts, ends, [0, 1, 2], steps), x=x)
    want = x[tuple(slice(s, e, st_) for s, e, st_ in spec)]
    np.testing.assert_array_equal(got, want)
