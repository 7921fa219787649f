"""NumPy semantics of the neural-network ops: matmul family, convolutions, norms and pooling.

Convolutions loop over the kernel taps (kh * kw iterations) and do one batched matmul per tap
over grouped channels: every tap is a strided view of the padded input, so no im2col buffer
larger than one tap is built, grouped and depthwise convolutions use the same code, and the
heavy work is BLAS. Pooling uses ``sliding_window_view`` (strided views, no copies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import attrs as A
from .ops import OpCode
from .shape_utils import conv_out_size, norm_axis
from .shapes_nn import pool_out_hw

Arrays = Sequence[np.ndarray]


def _tap(xp: np.ndarray, i: int, j: int, ho: int, wo: int, stride: tuple[int, int],
         dilation: tuple[int, int]) -> np.ndarray:
    """The (..., ho, wo) strided view of the padded input seen by kernel tap (i, j)."""
    r, c = i * dilation[0], j * dilation[1]
    rows = slice(r, r + stride[0] * (ho - 1) + 1, stride[0])
    return xp[..., rows, c:c + stride[1] * (wo - 1) + 1:stride[1]]


def _pad_hw(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0.0,
            extra: tuple[int, int] = (0, 0)) -> np.ndarray:
    pt, pl, pb, pr = padding
    if not any(padding) and not any(extra):
        return x
    widths = [(0, 0)] * (x.ndim - 2) + [(pt, pb + extra[0]), (pl, pr + extra[1])]
    return np.pad(x, widths, constant_values=value)


def conv2d(x: np.ndarray, w: np.ndarray, at: A.Conv2dAttrs) -> np.ndarray:
    """NCHW x OIHW convolution (cross-correlation, as in every DL framework)."""
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    g = at.groups
    ho = conv_out_size(h, kh, at.stride[0], at.padding[0], at.padding[2], at.dilation[0])
    wo = conv_out_size(wd, kw, at.stride[1], at.padding[1], at.padding[3], at.dilation[1])
    xp = _pad_hw(x, at.padding)
    xg = xp.reshape(n, g, cg, xp.shape[2], xp.shape[3])
    wg = w.reshape(g, co // g, cg, kh, kw)
    y = np.zeros((n, g, co // g, ho * wo), dtype=np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            xs = _tap(xg, i, j, ho, wo, at.stride, at.dilation).reshape(n, g, cg, ho * wo)
            y += np.matmul(wg[:, :, :, i, j], xs)
    return y.reshape(n, co, ho, wo)


def conv_transpose2d(x: np.ndarray, w: np.ndarray, at: A.ConvTranspose2dAttrs) -> np.ndarray:
    """Transposed convolution: scatter each input pixel times the kernel, then crop padding."""
    n, c, h, wd = x.shape
    _, cog, kh, kw = w.shape
    g = at.groups
    cig = c // g
    full_h = (h - 1) * at.stride[0] + at.dilation[0] * (kh - 1) + 1 + at.output_padding[0]
    full_w = (wd - 1) * at.stride[1] + at.dilation[1] * (kw - 1) + 1 + at.output_padding[1]
    yf = np.zeros((n, g, cog, full_h, full_w), dtype=np.result_type(x, w))
    xg = x.reshape(n, g, cig, h * wd)
    wg = w.reshape(g, cig, cog, kh, kw)
    for i in range(kh):
        for j in range(kw):
            contrib = np.matmul(wg[:, :, :, i, j].transpose(0, 2, 1), xg)
            _tap(yf, i, j, h, wd, at.stride, at.dilation)[...] += contrib.reshape(n, g, cog, h, wd)
    pt, pl, pb, pr = at.padding
    return yf.reshape(n, g * cog, full_h, full_w)[:, :, pt:full_h - pb, pl:full_w - pr]


def conv2d_grad_weight(x: np.ndarray, dy: np.ndarray, at: A.ConvGradWeightAttrs) -> np.ndarray:
    """dL/dw of conv2d(x, w) given dL/dy: per tap, sum over batch and pixels of dy * x_tap."""
    n = x.shape[0]
    co, cg, kh, kw = at.weight_shape
    conv = at.conv
    g = conv.groups
    ho, wo = dy.shape[2], dy.shape[3]
    xp = _pad_hw(x, conv.padding)
    xg = xp.reshape(n, g, cg, xp.shape[2], xp.shape[3])
    dyg = dy.reshape(n, g, co // g, ho * wo)
    dw = np.zeros((g, co // g, cg, kh, kw), dtype=np.result_type(x, dy))
    for i in range(kh):
        for j in range(kw):
            xs = _tap(xg, i, j, ho, wo, conv.stride, conv.dilation).reshape(n, g, cg, ho * wo)
            dw[:, :, :, i, j] = np.matmul(dyg, xs.transpose(0, 1, 3, 2)).sum(axis=0)
    return dw.reshape(co, cg, kh, kw)


def _gemm(xs: Arrays, at: A.GemmAttrs) -> tuple[np.ndarray, ...]:
    a = xs[0].T if at.trans_a else xs[0]
    b = xs[1].T if at.trans_b else xs[1]
    y = at.alpha * (a @ b)
    if len(xs) == 3:
        y = y + at.beta * xs[2]
    return (y,)


def _linear(xs: Arrays, _: Any) -> tuple[np.ndarray, ...]:
    y = np.matmul(xs[0], xs[1].T)
    return (y + xs[2] if len(xs) == 3 else y,)


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _batch_norm(xs: Arrays, at: A.BatchNormAttrs) -> tuple[np.ndarray, ...]:
    x, scale, bias, mean, var = xs
    if not at.training:
        inv = scale / np.sqrt(var + at.eps)
        return (x * _channel(inv, x.ndim) + _channel(bias - mean * inv, x.ndim),)
    axes = (0,) + tuple(range(2, x.ndim))
    bmean = x.mean(axis=axes)
    bvar = x.var(axis=axes)  # biased, as ONNX BatchNormalization training mode
    y = (x - _channel(bmean, x.ndim)) / np.sqrt(_channel(bvar, x.ndim) + at.eps)
    y = y * _channel(scale, x.ndim) + _channel(bias, x.ndim)
    m = at.momentum
    return (y, mean * m + bmean * (1 - m), var * m + bvar * (1 - m))


def _batch_norm_grad(xs: Arrays, at: A.BatchNormGradAttrs) -> tuple[np.ndarray, ...]:
    x, dy, scale = (np.asarray(v, dtype=np.float64) for v in xs[:3])
    if at.relu_mask:  # the backward of relu(y): where(y > 0, dy, 0)
        dy = np.where(np.asarray(xs[3]) > 0, dy, 0.0)
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1]  # M: elements per channel
    inv = 1.0 / np.sqrt(x.var(axis=axes) + at.eps)  # biased, as the training forward
    xhat = (x - _channel(x.mean(axis=axes), x.ndim)) * _channel(inv, x.ndim)
    dbias = dy.sum(axis=axes)
    dscale = (dy * xhat).sum(axis=axes)
    coef = _channel(scale * inv / count, x.ndim)
    dx = coef * (count * dy - _channel(dbias, x.ndim) - xhat * _channel(dscale, x.ndim))
    return (dx, dscale, dbias)


def _layer_norm(xs: Arrays, at: A.LayerNormAttrs) -> tuple[np.ndarray, ...]:
    x, scale, bias = xs
    axes = tuple(range(norm_axis(at.axis, x.ndim), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return ((x - mean) / np.sqrt(var + at.eps) * scale + bias,)


def _pool_geometry(x: np.ndarray, at: A.PoolAttrs) -> tuple[int, int, tuple[int, int]]:
    """(ho, wo, extra end padding needed by ceil_mode)."""
    h, w = x.shape[2], x.shape[3]
    ho, wo = pool_out_hw(h, w, at)
    span_h = at.dilation[0] * (at.kernel[0] - 1) + 1
    span_w = at.dilation[1] * (at.kernel[1] - 1) + 1
    extra_h = max(0, (ho - 1) * at.stride[0] + span_h - (h + at.padding[0] + at.padding[2]))
    extra_w = max(0, (wo - 1) * at.stride[1] + span_w - (w + at.padding[1] + at.padding[3]))
    return ho, wo, (extra_h, extra_w)


def _windows(xp: np.ndarray, at: A.PoolAttrs, ho: int, wo: int) -> np.ndarray:
    """(n, c, ho, wo, kh, kw) strided view of the pooling windows of a padded input."""
    span = (at.dilation[0] * (at.kernel[0] - 1) + 1, at.dilation[1] * (at.kernel[1] - 1) + 1)
    win = sliding_window_view(xp, span, axis=(2, 3))
    win = win[:, :, ::at.stride[0], ::at.stride[1], ::at.dilation[0], ::at.dilation[1]]
    return win[:, :, :ho, :wo]


def _pool_divisor(x: np.ndarray, at: A.PoolAttrs, ho: int, wo: int,
                  extra: tuple[int, int]) -> np.ndarray:
    """Per-output element count for average pooling, as a (ho, wo) array.

    count_include_pad counts the explicit padding but never the extra ceil_mode overhang
    (PyTorch AvgPool2d semantics); otherwise only real input elements are counted.
    """
    h, w = x.shape[2], x.shape[3]
    pt, pl, pb, pr = at.padding
    if at.count_include_pad:
        mask = np.pad(np.ones((h + pt + pb, w + pl + pr)), ((0, extra[0]), (0, extra[1])))
    else:
        mask = np.pad(np.ones((h, w)), ((pt, pb + extra[0]), (pl, pr + extra[1])))
    return _windows(mask[None, None], at, ho, wo).sum(axis=(-2, -1))[0, 0]


def _max_pool(xs: Arrays, at: A.PoolAttrs) -> tuple[np.ndarray, ...]:
    x = xs[0]
    ho, wo, extra = _pool_geometry(x, at)
    xp = _pad_hw(x, at.padding, -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min, extra)
    return (_windows(xp, at, ho, wo).max(axis=(-2, -1)),)


def _avg_pool(xs: Arrays, at: A.PoolAttrs) -> tuple[np.ndarray, ...]:
    x = xs[0]
    ho, wo, extra = _pool_geometry(x, at)
    total = _windows(_pad_hw(x, at.padding, 0.0, extra), at, ho, wo).sum(axis=(-2, -1))
    return (total / _pool_divisor(x, at, ho, wo, extra),)


def _max_pool_grad(xs: Arrays, at: A.PoolAttrs) -> tuple[np.ndarray, ...]:
    """Route each output gradient to the first maximum of its window (PyTorch tie rule)."""
    x, dy = xs
    n, c, h, w = x.shape
    ho, wo, extra = _pool_geometry(x, at)
    xp = _pad_hw(x, at.padding, -np.inf, extra)
    win = _windows(xp, at, ho, wo).reshape(n, c, ho, wo, -1)
    tap = win.argmax(axis=-1)
    kw = at.kernel[1]
    rows = np.arange(ho)[:, None] * at.stride[0] + (tap // kw) * at.dilation[0]
    cols = np.arange(wo)[None, :] * at.stride[1] + (tap % kw) * at.dilation[1]
    hp, wp = xp.shape[2], xp.shape[3]
    flat = (np.arange(n * c).reshape(n, c, 1, 1) * hp + rows) * wp + cols
    gp = np.bincount(flat.ravel(), weights=dy.ravel().astype(np.float64), minlength=n * c * hp * wp)
    gp = gp.reshape(n, c, hp, wp)
    return (gp[:, :, at.padding[0]:at.padding[0] + h, at.padding[1]:at.padding[1] + w],)


def _avg_pool_grad(xs: Arrays, at: A.PoolAttrs) -> tuple[np.ndarray, ...]:
    x, dy = xs
    n, c, h, w = x.shape
    ho, wo, extra = _pool_geometry(x, at)
    share = dy / _pool_divisor(x, at, ho, wo, extra)
    pt, pl, pb, pr = at.padding
    gp = np.zeros((n, c, h + pt + pb + extra[0], w + pl + pr + extra[1]), dtype=share.dtype)
    for i in range(at.kernel[0]):
        for j in range(at.kernel[1]):
            _tap(gp, i, j, ho, wo, at.stride, at.dilation)[...] += share
    return (gp[:, :, pt:pt + h, pl:pl + w],)


NN_EVAL_RULES: dict[OpCode, Callable[[Arrays, Any], tuple[np.ndarray, ...]]] = {
    OpCode.MATMUL: lambda xs, _: (np.matmul(xs[0], xs[1]),),
    OpCode.GEMM: _gemm,
    OpCode.LINEAR: _linear,
    OpCode.CONV2D: lambda xs, at: (
        conv2d(xs[0], xs[1], at) + (_channel(xs[2], 4) if len(xs) == 3 else 0),),
    OpCode.CONV_TRANSPOSE2D: lambda xs, at: (
        conv_transpose2d(xs[0], xs[1], at) + (_channel(xs[2], 4) if len(xs) == 3 else 0),),
    OpCode.CONV2D_GRAD_WEIGHT: lambda xs, at: (conv2d_grad_weight(xs[0], xs[1], at),),
    OpCode.BATCH_NORM: _batch_norm,
    OpCode.BATCH_NORM_GRAD: _batch_norm_grad,
    OpCode.LAYER_NORM: _layer_norm,
    OpCode.MAX_POOL2D: _max_pool,
    OpCode.AVG_POOL2D: _avg_pool,
    OpCode.MAX_POOL2D_GRAD: _max_pool_grad,
    OpCode.AVG_POOL2D_GRAD: _avg_pool_grad,
    OpCode.GLOBAL_AVG_POOL: lambda xs, _: (
        xs[0].mean(axis=tuple(range(2, xs[0].ndim)), keepdims=True),),
}
