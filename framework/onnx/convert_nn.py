"""Converters for the ONNX neural-network ops: Conv, ConvTranspose, pooling, Gemm, MatMul and
the normalisations (BatchNormalization, LayerNormalization, InstanceNormalization, LRN).

The IR's windowed ops are 2-D (NCHW). 1-D ONNX windows (N, C, L) are lifted to 2-D as
(N, C, 1, L) with a unit kernel height, run, and reshaped back; 3-D windows are refused with a
message naming the node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .context import Converter, ImportContext


@dataclass(frozen=True)
class Window:
    """2-D window geometry of one ONNX Conv/Pool node; ``lifted`` marks a 1-D op run as 2-D."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]
    lifted: bool


def _to2d(values: tuple[int, ...], lifted: bool, fill: int) -> tuple[int, int]:
    return (fill, values[0]) if lifted else (values[0], values[1])


def _same_pads(size: int, kernel: int, stride: int, dilation: int, upper: bool) -> tuple[int, int]:
    """SAME_UPPER / SAME_LOWER padding: output = ceil(size / stride) (ONNX auto_pad)."""
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def window(ctx: ImportContext, spatial: tuple[int, ...], kernel: tuple[int, ...]) -> Window:
    """Read kernel_shape / strides / pads / dilations / auto_pad of the current node."""
    rank = len(spatial)
    if rank not in (1, 2):
        raise ctx.error(f"{rank}-D {ctx.node.op_type} is not supported (the IR has 2-D windows; "
                        f"1-D ones are lifted to 2-D)")
    kernel = ctx.attrs.ints("kernel_shape", kernel) or kernel
    strides = ctx.attrs.ints("strides", (1,) * rank) or (1,) * rank
    dilations = ctx.attrs.ints("dilations", (1,) * rank) or (1,) * rank
    pads = ctx.attrs.ints("pads", (0,) * (2 * rank)) or (0,) * (2 * rank)
    auto_pad = str(ctx.attrs.get("auto_pad", "NOTSET"))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [_same_pads(spatial[i], kernel[i], strides[i], dilations[i],
                            auto_pad == "SAME_UPPER") for i in range(rank)]
        pads = tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)
    elif auto_pad == "VALID":
        pads = (0,) * (2 * rank)
    elif auto_pad != "NOTSET":
        raise ctx.error(f"unknown auto_pad {auto_pad!r}")
    lifted = rank == 1
    begins, ends = _to2d(pads[:rank], lifted, 0), _to2d(pads[rank:], lifted, 0)
    return Window(_to2d(kernel, lifted, 1), _to2d(strides, lifted, 1),
                  (begins[0], begins[1], ends[0], ends[1]), _to2d(dilations, lifted, 1), lifted)


def reshaped(ctx: ImportContext, i: int, shape: tuple[int, ...]) -> str:
    """Input ``i`` reshaped; a constant input is reshaped at import rather than in the graph."""
    array = ctx.known_const(ctx.node.input[i])
    if array is not None:
        return ctx.b.constant(array.reshape(shape))
    return ctx.b.reshape(ctx.input(i), shape)


def _lift(ctx: ImportContext, i: int, lifted: bool) -> str:
    shape = ctx.shape(i)
    return reshaped(ctx, i, shape[:2] + (1,) + shape[2:]) if lifted else ctx.input(i)


def _drop(ctx: ImportContext, y: str, lifted: bool) -> str:
    if not lifted:
        return y
    shape = ctx.b.shape(y)
    return ctx.b.reshape(y, shape[:2] + shape[3:], name=ctx.out_name())


def _conv(ctx: ImportContext) -> str:
    w_shape = ctx.shape(1)
    win = window(ctx, ctx.shape(0)[2:], w_shape[2:])
    x, w = _lift(ctx, 0, win.lifted), _lift(ctx, 1, win.lifted)
    bias = ctx.input(2) if ctx.has(2) else None
    y = ctx.b.conv2d(x, w, bias, win.stride, win.padding, win.dilation,
                     int(ctx.attrs.get("group", 1)), name=None if win.lifted else ctx.out_name())
    return _drop(ctx, y, win.lifted)


def _conv_transpose(ctx: ImportContext) -> str:
    spatial, w_shape = ctx.shape(0)[2:], ctx.shape(1)
    win = window(ctx, spatial, w_shape[2:])
    rank = len(spatial)
    out_pad = ctx.attrs.ints("output_padding", (0,) * rank) or (0,) * rank
    output_shape = ctx.attrs.ints("output_shape")
    auto_pad = str(ctx.attrs.get("auto_pad", "NOTSET"))
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX ConvTranspose: total_padding = stride*(in-1) + output_padding
        #                                     + ((kernel-1)*dilation + 1) - output_shape
        kernel = w_shape[2:]
        stride = ctx.attrs.ints("strides", (1,) * rank) or (1,) * rank
        dil = ctx.attrs.ints("dilations", (1,) * rank) or (1,) * rank
        target = output_shape[-rank:] if output_shape is not None else tuple(
            spatial[i] * stride[i] for i in range(rank))
        totals = [stride[i] * (spatial[i] - 1) + out_pad[i] + (kernel[i] - 1) * dil[i] + 1
                  - target[i] for i in range(rank)]
        # an output_shape beyond the full output is reached by extra output padding (as
        # onnx.reference and onnxruntime do), never by negative pads
        out_pad = tuple(p - min(t, 0) for p, t in zip(out_pad, totals, strict=True))
        totals = [max(t, 0) for t in totals]
        upper = auto_pad != "SAME_LOWER"
        begin = [t // 2 if upper else t - t // 2 for t in totals]
        end = [t - b for t, b in zip(totals, begin, strict=True)]
        b2, e2 = _to2d(tuple(begin), win.lifted, 0), _to2d(tuple(end), win.lifted, 0)
        win = Window(win.kernel, win.stride, (b2[0], b2[1], e2[0], e2[1]), win.dilation,
                     win.lifted)
    x, w = _lift(ctx, 0, win.lifted), _lift(ctx, 1, win.lifted)
    bias = ctx.input(2) if ctx.has(2) else None
    y = ctx.b.conv_transpose2d(x, w, bias, win.stride, win.padding,
                               _to2d(out_pad, win.lifted, 0), win.dilation,
                               int(ctx.attrs.get("group", 1)),
                               name=None if win.lifted else ctx.out_name())
    return _drop(ctx, y, win.lifted)


def _pool(kind: str) -> Converter:
    """MaxPool / AveragePool (the Indices output of MaxPool is not supported)."""
    def convert(ctx: ImportContext) -> str:
        spatial = ctx.shape(0)[2:]
        kernel = ctx.attrs.ints("kernel_shape")
        if kernel is None:
            raise ctx.error("kernel_shape is required")
        win = window(ctx, spatial, kernel)
        x = _lift(ctx, 0, win.lifted)
        ceil_mode = bool(ctx.attrs.get("ceil_mode", 0))
        name = None if win.lifted else ctx.out_name()
        if kind == "max":
            y = ctx.b.max_pool2d(x, win.kernel, win.stride, win.padding, win.dilation, ceil_mode,
                                 name=name)
        else:
            y = ctx.b.avg_pool2d(x, win.kernel, win.stride, win.padding, win.dilation, ceil_mode,
                                 bool(ctx.attrs.get("count_include_pad", 0)), name=name)
        return _drop(ctx, y, win.lifted)
    return convert


def _global_max_pool(ctx: ImportContext) -> str:
    rank = len(ctx.shape(0))
    return ctx.b.reduce_max(ctx.input(0), tuple(range(2, rank)), True, name=ctx.out_name())


def _gemm(ctx: ImportContext) -> str:
    return ctx.b.gemm(ctx.input(0), ctx.input(1), ctx.input(2) if ctx.has(2) else None,
                      float(ctx.attrs.get("alpha", 1.0)), float(ctx.attrs.get("beta", 1.0)),
                      bool(ctx.attrs.get("transA", 0)), bool(ctx.attrs.get("transB", 0)),
                      name=ctx.out_name())


def _batch_norm(ctx: ImportContext) -> str | tuple[str, ...]:
    """BatchNormalization; training statistics when training_mode=1 (opset 14+)."""
    if ctx.opset < 9 and int(ctx.attrs.get("spatial", 1)) == 0:
        raise ctx.error("spatial=0 (per-activation statistics) is not supported")
    training = bool(ctx.attrs.get("training_mode", 0))
    if ctx.opset < 14 and int(ctx.attrs.get("is_test", 1)) == 0 and len(ctx.node.output) > 1:
        training = True
    x, scale, bias, mean, var = (ctx.input(i) for i in range(5))
    outs = ctx.b.batch_norm(x, scale, bias, mean, var,
                            eps=float(ctx.attrs.get("epsilon", 1e-5)),
                            momentum=float(ctx.attrs.get("momentum", 0.9)), training=training,
                            name=ctx.out_name())
    return outs


def _layer_norm(ctx: ImportContext) -> tuple[str, ...]:
    """LayerNormalization-17; the optional Mean and InvStdDev outputs (kept dims over
    axis..rank-1) are built from reductions only when the model asks for them."""
    x, scale = ctx.input(0), ctx.input(1)
    if ctx.has(2):
        bias = ctx.input(2)
    else:
        bias = ctx.b.constant(np.zeros(ctx.shape(1), dtype=ctx.dtype(1)))
    axis, eps = int(ctx.attrs.get("axis", -1)), float(ctx.attrs.get("epsilon", 1e-5))
    y = ctx.b.layer_norm(x, scale, bias, axis, eps, name=ctx.out_name())
    wanted = [k for k in (1, 2) if len(ctx.node.output) > k and ctx.node.output[k]]
    if not wanted:
        return (y,)
    rank = len(ctx.shape(0))
    axes = tuple(range(axis % rank, rank))
    mean = ctx.b.reduce_mean(x, axes, True, name=ctx.out_name(1))
    centered = ctx.b.sub(x, mean)
    var = ctx.b.reduce_mean(ctx.b.mul(centered, centered), axes, True)
    inv_std = ctx.b.reciprocal(ctx.b.sqrt(ctx.b.add(var, eps)), name=ctx.out_name(2))
    return (y, mean, inv_std)


def _instance_norm(ctx: ImportContext) -> str:
    """InstanceNormalization = layer norm over the spatial axes, then per-channel scale/bias."""
    x_shape, dtype = ctx.shape(0), ctx.dtype(0)
    unit = ctx.b.constant(np.ones((1,), dtype=dtype))
    zero = ctx.b.constant(np.zeros((1,), dtype=dtype))
    y = ctx.b.layer_norm(ctx.input(0), unit, zero, 2, float(ctx.attrs.get("epsilon", 1e-5)))
    per_channel = (x_shape[1],) + (1,) * (len(x_shape) - 2)
    y = ctx.b.mul(y, reshaped(ctx, 1, per_channel))
    return ctx.b.add(y, reshaped(ctx, 2, per_channel), name=ctx.out_name())


def _lrn(ctx: ImportContext) -> str:
    """Local response normalisation across channels (ONNX LRN):

    y = x / (bias + alpha / size * sum_{window} x^2) ** beta, the window covering channels
    c - floor((size-1)/2) .. c + ceil((size-1)/2). The windowed mean of x^2 is an average pool
    with count_include_pad over a (N, 1, C, H*W) view, so alpha * mean = alpha/size * sum.
    """
    size = int(ctx.attrs.get("size"))
    alpha = float(ctx.attrs.get("alpha", 1e-4))
    beta = float(ctx.attrs.get("beta", 0.75))
    bias = float(ctx.attrs.get("bias", 1.0))
    shape = ctx.shape(0)
    x = ctx.input(0)
    view = (shape[0], 1, shape[1], math.prod(shape[2:]))
    squares = ctx.b.reshape(ctx.b.mul(x, x), view)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    mean = ctx.b.avg_pool2d(squares, (size, 1), 1, (lo, 0, hi, 0), count_include_pad=True)
    denom = ctx.b.pow(ctx.b.add(ctx.b.mul(mean, alpha), bias), beta)
    return ctx.b.div(x, ctx.b.reshape(denom, shape), name=ctx.out_name())


NN_CONVERTERS: dict[str, Converter] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda ctx: ctx.b.global_avg_pool(ctx.input(0), name=ctx.out_name()),
    "GlobalMaxPool": _global_max_pool,
    "Gemm": _gemm,
    "MatMul": lambda ctx: ctx.b.matmul(ctx.input(0), ctx.input(1), name=ctx.out_name()),
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "InstanceNormalization": _instance_norm,
    "LRN": _lrn,
}
"""ONNX op type -> converter, for convolutions, pooling, matrix products and normalisations."""
