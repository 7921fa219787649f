"""Stateless layer functions on Tensors (the ``F`` of the framework), one graph op each where the
graph has that op; layers in this package are thin owners of parameters around these."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import attrs as A
from ..builder_ops import IntOr2, pads4, pair
from ..errors import FrameworkError
from ..ops import OpCode
from ..tensor import Tensor, apply, where


def _with_bias(x: Tensor, weight: Tensor, bias: Tensor | None) -> list[Tensor]:
    return [x, weight] if bias is None else [x, weight, bias]


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, weight (out_features, in_features)."""
    return apply(OpCode.LINEAR, _with_bias(x, weight, bias))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOr2 = 1,
           padding: IntOr2 = 0, dilation: IntOr2 = 1, groups: int = 1) -> Tensor:
    """NCHW convolution with an OIHW weight."""
    at = A.Conv2dAttrs(pair(stride, "stride"), pads4(padding), pair(dilation, "dilation"), groups)
    return apply(OpCode.CONV2D, _with_bias(x, weight, bias), at)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOr2 = 1,
                     padding: IntOr2 = 0, output_padding: IntOr2 = 0, dilation: IntOr2 = 1,
                     groups: int = 1) -> Tensor:
    """Transposed convolution with a (Cin, Cout/groups, kh, kw) weight."""
    at = A.ConvTranspose2dAttrs(pair(stride, "stride"), pads4(padding),
                                pair(output_padding, "output_padding"),
                                pair(dilation, "dilation"), groups)
    return apply(OpCode.CONV_TRANSPOSE2D, _with_bias(x, weight, bias), at)


def batch_norm(x: Tensor, weight: Tensor, bias: Tensor, running_mean: Tensor,
               running_var: Tensor, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Batch norm over axis 1. Eval uses the running statistics and returns y; training uses
    the batch statistics and returns (y, new_mean, new_var). ``momentum`` is PyTorch's (the
    weight of the new batch); the graph op keeps ONNX's (the weight of the running value)."""
    at = A.BatchNormAttrs(eps, 1.0 - momentum, training)
    return apply(OpCode.BATCH_NORM, [x, weight, bias, running_mean, running_var], at)


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, axis: int = -1,
               eps: float = 1e-5) -> Tensor:
    """Normalise over dims axis..end, then scale and shift."""
    return apply(OpCode.LAYER_NORM, [x, weight, bias], A.LayerNormAttrs(axis, eps))


def max_pool2d(x: Tensor, kernel: IntOr2, stride: IntOr2 | None = None, padding: IntOr2 = 0,
               dilation: IntOr2 = 1, ceil_mode: bool = False) -> Tensor:
    """Max pooling (stride defaults to the kernel)."""
    k = pair(kernel, "kernel")
    at = A.PoolAttrs(k, pair(stride, "stride") if stride is not None else k, pads4(padding),
                     pair(dilation, "dilation"), ceil_mode, False)
    return apply(OpCode.MAX_POOL2D, [x], at)


def avg_pool2d(x: Tensor, kernel: IntOr2, stride: IntOr2 | None = None, padding: IntOr2 = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Average pooling (count_include_pad defaults to True, as in PyTorch)."""
    k = pair(kernel, "kernel")
    at = A.PoolAttrs(k, pair(stride, "stride") if stride is not None else k, pads4(padding),
                     (1, 1), ceil_mode, count_include_pad)
    return apply(OpCode.AVG_POOL2D, [x], at)


def adaptive_avg_pool2d(x: Tensor, output_size: IntOr2) -> Tensor:
    """Adaptive average pooling; output (1, 1) is a global average pool, and any size that
    divides the input evenly is an average pool with kernel = stride = input / output."""
    oh, ow = pair(output_size, "output_size")
    h, w = x.shape[-2:]
    if (oh, ow) == (1, 1):
        return apply(OpCode.GLOBAL_AVG_POOL, [x])
    if h % oh or w % ow:
        raise FrameworkError(f"adaptive_avg_pool2d: input {h}x{w} is not a multiple of the "
                             f"output {oh}x{ow}")
    return avg_pool2d(x, (h // oh, w // ow))


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return apply(OpCode.RELU, [x])


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6) (MobileNetV2), as a clip."""
    return x.clip(0.0, 6.0)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU, exact (erf) or "tanh" approximation."""
    return apply(OpCode.GELU, [x], A.GeluAttrs(approximate))


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x)."""
    return apply(OpCode.SILU, [x])


def leaky_relu(x: Tensor, alpha: float = 0.01) -> Tensor:
    """x if x >= 0 else alpha * x."""
    return apply(OpCode.LEAKY_RELU, [x], A.LeakyReluAttrs(alpha))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return apply(OpCode.ELU, [x], A.EluAttrs(alpha))


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x))."""
    return apply(OpCode.SOFTPLUS, [x])


def embedding(ids: Tensor, table: Tensor) -> Tensor:
    """Rows of ``table`` (vocab, dim) for integer ``ids``."""
    return apply(OpCode.GATHER, [table, ids], A.AxisAttrs(0))


def pad(x: Tensor, pads: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """ONNX Pad: ``pads`` holds all begins then all ends."""
    return apply(OpCode.PAD, [x], A.PadAttrs(tuple(pads), mode, value))


def causal_mask(q_len: int, k_len: int) -> Tensor:
    """Bool (q_len, k_len): query i (the last q_len of k_len positions) sees keys j <= its own."""
    offset = k_len - q_len
    return Tensor(np.arange(k_len)[None, :] <= np.arange(q_len)[:, None] + offset)


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 causal: bool = False) -> Tensor:
    """softmax(q @ k^T / sqrt(d) masked) @ v over (..., T, d) tensors (Vaswani et al. 2017).

    ``mask`` is bool, True where attention is allowed (broadcast to the scores); masked scores
    become -inf before the softmax, so each row needs at least one allowed key.
    """
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    allowed = mask
    if causal:
        allowed = causal_mask(q.shape[-2], k.shape[-2])
        if mask is not None:
            raise FrameworkError("scaled_dot_product_attention: give mask or causal, not both")
    if allowed is not None:
        scores = where(allowed, scores, -math.inf)
    return scores.softmax(-1) @ v
