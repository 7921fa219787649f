"""Shape rules for the neural-network ops: matmul/gemm/linear, convolutions, norms, pooling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import attrs as A
from .errors import FrameworkError
from .ir import TensorType
from .ops import OpCode
from .shape_utils import broadcast_shapes, conv_out_size, norm_axis, require_float, same_dtype

Types = tuple[TensorType, ...]


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """numpy.matmul result shape (1-D operands promoted then squeezed, batch dims broadcast)."""
    if not a or not b:
        raise FrameworkError("matmul operands must have rank >= 1")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise FrameworkError(f"matmul inner dims differ: {a} @ {b}")
    out = broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _matmul(ts: Types, _: Any) -> Types:
    dtype = same_dtype(ts)
    return (TensorType(matmul_shape(ts[0].shape, ts[1].shape), dtype),)


def _gemm(ts: Types, at: A.GemmAttrs) -> Types:
    dtype = same_dtype(ts)
    a, b = ts[0].shape, ts[1].shape
    if len(a) != 2 or len(b) != 2:
        raise FrameworkError(f"gemm needs 2-D A and B, got {a} and {b}")
    m, k = (a[1], a[0]) if at.trans_a else a
    k2, n = (b[1], b[0]) if at.trans_b else b
    if k != k2:
        raise FrameworkError(f"gemm inner dims differ: A{a} trans_a={at.trans_a}, "
                             f"B{b} trans_b={at.trans_b}")
    if len(ts) == 3 and broadcast_shapes(ts[2].shape, (m, n)) != (m, n):
        raise FrameworkError(f"gemm C {ts[2].shape} does not broadcast to {(m, n)}")
    return (TensorType((m, n), dtype),)


def _linear(ts: Types, _: Any) -> Types:
    dtype = same_dtype(ts)
    x, w = ts[0].shape, ts[1].shape
    if len(w) != 2 or not x or x[-1] != w[1]:
        raise FrameworkError(f"linear needs weight (out, in) matching x[..., in]: x{x}, w{w}")
    if len(ts) == 3 and ts[2].shape != (w[0],):
        raise FrameworkError(f"linear bias must be ({w[0]},), got {ts[2].shape}")
    return (TensorType(x[:-1] + (w[0],), dtype),)


def _nchw(t: TensorType, what: str) -> tuple[int, int, int, int]:
    if t.rank != 4:
        raise FrameworkError(f"{what} must be 4-D (NCHW), got {t.shape}")
    n, c, h, w = t.shape
    return n, c, h, w


def _conv2d(ts: Types, at: A.Conv2dAttrs) -> Types:
    dtype = same_dtype(ts)
    n, c, h, w = _nchw(ts[0], "conv2d input")
    co, ci, kh, kw = _nchw(ts[1], "conv2d weight")
    if c % at.groups or co % at.groups or ci != c // at.groups:
        raise FrameworkError(f"conv2d: input channels {c}, weight {ts[1].shape} and groups "
                             f"{at.groups} disagree (need weight[1] == C/groups)")
    if len(ts) == 3 and ts[2].shape != (co,):
        raise FrameworkError(f"conv2d bias must be ({co},), got {ts[2].shape}")
    pt, pl, pb, pr = at.padding
    ho = conv_out_size(h, kh, at.stride[0], pt, pb, at.dilation[0])
    wo = conv_out_size(w, kw, at.stride[1], pl, pr, at.dilation[1])
    return (TensorType((n, co, ho, wo), dtype),)


def conv_transpose_out(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                       out_pad: int, dilation: int) -> int:
    """Output length of a transposed convolution along one axis (ONNX ConvTranspose)."""
    return (size - 1) * stride + dilation * (kernel - 1) + 1 + out_pad - pad_begin - pad_end


def _conv_transpose2d(ts: Types, at: A.ConvTranspose2dAttrs) -> Types:
    dtype = same_dtype(ts)
    n, c, h, w = _nchw(ts[0], "conv_transpose2d input")
    ci, cog, kh, kw = _nchw(ts[1], "conv_transpose2d weight")
    if ci != c or c % at.groups:
        raise FrameworkError(f"conv_transpose2d: input channels {c}, weight {ts[1].shape} and "
                             f"groups {at.groups} disagree (need weight[0] == C)")
    co = cog * at.groups
    if len(ts) == 3 and ts[2].shape != (co,):
        raise FrameworkError(f"conv_transpose2d bias must be ({co},), got {ts[2].shape}")
    pt, pl, pb, pr = at.padding
    ho = conv_transpose_out(h, kh, at.stride[0], pt, pb, at.output_padding[0], at.dilation[0])
    wo = conv_transpose_out(w, kw, at.stride[1], pl, pr, at.output_padding[1], at.dilation[1])
    if ho <= 0 or wo <= 0:
        raise FrameworkError(f"conv_transpose2d output would be empty ({ho}x{wo})")
    return (TensorType((n, co, ho, wo), dtype),)


def _conv_grad_weight(ts: Types, at: A.ConvGradWeightAttrs) -> Types:
    dtype = same_dtype(ts)
    x = TensorType(ts[0].shape, dtype)
    (y,) = _conv2d((x, TensorType(at.weight_shape, dtype)), at.conv)
    if y.shape != ts[1].shape:
        raise FrameworkError(f"conv2d_grad_weight: dy {ts[1].shape} does not match the conv "
                             f"output {y.shape}")
    return (TensorType(at.weight_shape, dtype),)


def _batch_norm(ts: Types, at: A.BatchNormAttrs) -> Types:
    dtype = same_dtype(ts)
    require_float(ts[0])
    if ts[0].rank < 2:
        raise FrameworkError(f"batch_norm input must have rank >= 2, got {ts[0].shape}")
    c = ts[0].shape[1]
    for t, what in zip(ts[1:], ("scale", "bias", "mean", "var"), strict=True):
        if t.shape != (c,):
            raise FrameworkError(f"batch_norm {what} must be ({c},), got {t.shape}")
    stat = TensorType((c,), dtype)
    return (ts[0], stat, stat) if at.training else (ts[0],)


def _batch_norm_grad(ts: Types, at: A.BatchNormGradAttrs) -> Types:
    dtype = same_dtype(ts)
    if len(ts) != (4 if at.relu_mask else 3):
        raise FrameworkError(f"batch_norm_grad takes {'4' if at.relu_mask else '3'} inputs "
                             f"with relu_mask={at.relu_mask}, got {len(ts)}")
    x, dy, scale = ts[:3]
    require_float(x)
    if x.rank < 2:
        raise FrameworkError(f"batch_norm_grad input must have rank >= 2, got {x.shape}")
    if dy.shape != x.shape:
        raise FrameworkError(f"batch_norm_grad: dy {dy.shape} does not match x {x.shape}")
    if at.relu_mask and ts[3].shape != x.shape:
        raise FrameworkError(f"batch_norm_grad: relu mask input {ts[3].shape} does not match "
                             f"x {x.shape}")
    c = x.shape[1]
    if scale.shape != (c,):
        raise FrameworkError(f"batch_norm_grad scale must be ({c},), got {scale.shape}")
    stat = TensorType((c,), dtype)
    return (x, stat, stat)


def _layer_norm(ts: Types, at: A.LayerNormAttrs) -> Types:
    same_dtype(ts)
    require_float(ts[0])
    axis = norm_axis(at.axis, ts[0].rank)
    norm_shape = ts[0].shape[axis:]
    for t, what in zip(ts[1:], ("scale", "bias"), strict=True):
        if broadcast_shapes(t.shape, norm_shape) != norm_shape:
            raise FrameworkError(f"layer_norm {what} {t.shape} does not broadcast to {norm_shape}")
    return (ts[0],)


def pool_out_hw(h: int, w: int, at: A.PoolAttrs) -> tuple[int, int]:
    """Pooled output height and width."""
    pt, pl, pb, pr = at.padding
    if max(pt, pb) > at.kernel[0] or max(pl, pr) > at.kernel[1]:
        # ONNX and PyTorch both reject pads larger than the window (PyTorch: pad <= kernel/2)
        raise FrameworkError(f"pool padding {at.padding} exceeds kernel {at.kernel}")
    ho = conv_out_size(h, at.kernel[0], at.stride[0], pt, pb, at.dilation[0], at.ceil_mode)
    wo = conv_out_size(w, at.kernel[1], at.stride[1], pl, pr, at.dilation[1], at.ceil_mode)
    return ho, wo


def _pool(ts: Types, at: A.PoolAttrs) -> Types:
    n, c, h, w = _nchw(ts[0], "pool input")
    return (ts[0].with_shape((n, c) + pool_out_hw(h, w, at)),)


def _pool_grad(ts: Types, at: A.PoolAttrs) -> Types:
    same_dtype(ts)
    (y,) = _pool(ts[:1], at)
    if ts[1].shape != y.shape:
        raise FrameworkError(f"pool grad: dy {ts[1].shape} does not match pool output {y.shape}")
    return (ts[0],)


def _global_avg_pool(ts: Types, _: Any) -> Types:
    require_float(ts[0])
    if ts[0].rank < 3:
        raise FrameworkError(f"global_avg_pool needs rank >= 3, got {ts[0].shape}")
    return (ts[0].with_shape(ts[0].shape[:2] + (1,) * (ts[0].rank - 2)),)


NN_SHAPE_RULES: dict[OpCode, Callable[[Types, Any], Types]] = {
    OpCode.MATMUL: _matmul,
    OpCode.GEMM: _gemm,
    OpCode.LINEAR: _linear,
    OpCode.CONV2D: _conv2d,
    OpCode.CONV_TRANSPOSE2D: _conv_transpose2d,
    OpCode.CONV2D_GRAD_WEIGHT: _conv_grad_weight,
    OpCode.BATCH_NORM: _batch_norm,
    OpCode.BATCH_NORM_GRAD: _batch_norm_grad,
    OpCode.LAYER_NORM: _layer_norm,
    OpCode.MAX_POOL2D: _pool,
    OpCode.AVG_POOL2D: _pool,
    OpCode.MAX_POOL2D_GRAD: _pool_grad,
    OpCode.AVG_POOL2D_GRAD: _pool_grad,
    OpCode.GLOBAL_AVG_POOL: _global_avg_pool,
}
