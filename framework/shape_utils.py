"""Small shape helpers shared by the shape rules, the evaluator and the VJP rules."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import FrameworkError
from .ir import TensorType


def norm_axis(axis: int, rank: int) -> int:
    """Resolve a possibly negative axis against ``rank``; FrameworkError if out of range."""
    if not -rank <= axis < max(rank, 1):
        raise FrameworkError(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy broadcasting of shapes, or FrameworkError naming them."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise FrameworkError(f"shapes {[tuple(s) for s in shapes]} do not broadcast") from None


def same_dtype(types: Sequence[TensorType]) -> str:
    """The common dtype of ``types``, or FrameworkError listing them."""
    dtypes = {t.dtype for t in types}
    if len(dtypes) != 1:
        raise FrameworkError(f"operand dtypes differ: {[t.dtype for t in types]}")
    return types[0].dtype


def require_float(t: TensorType) -> None:
    """FrameworkError unless ``t`` is floating point."""
    if not t.is_float:
        raise FrameworkError(f"needs a floating-point operand, got {t.dtype}")


def conv_out_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                  dilation: int, ceil_mode: bool = False) -> int:
    """Output length of a sliding window (conv or pool) along one axis.

    ceil_mode follows PyTorch (aten/src/ATen/native/Pool.h pooling_output_shape): round up,
    but drop a last window that would start inside the end padding.
    """
    span = dilation * (kernel - 1) + 1
    room = size + pad_begin + pad_end - span
    if room < 0:
        raise FrameworkError(
            f"window {span} (kernel {kernel}, dilation {dilation}) larger than padded input "
            f"{size + pad_begin + pad_end}")
    if not ceil_mode:
        return room // stride + 1
    out = math.ceil(room / stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out
