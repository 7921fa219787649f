"""``Tensor.__getitem__``: NumPy basic indexing expressed with graph ops.

Slices become one SLICE node, integer indices a size-1 slice followed by a RESHAPE that drops
the axis, ``None`` a RESHAPE that inserts one, and an integer Tensor index a GATHER on axis 0.
"""

from __future__ import annotations

from typing import Any

from . import attrs as A
from .errors import FrameworkError
from .ops import OpCode
from .tensor import Tensor, apply


def _expand_ellipsis(index: tuple[Any, ...], rank: int) -> tuple[Any, ...]:
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise FrameworkError("an index may hold at most one Ellipsis")
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if used > rank:
        raise FrameworkError(f"too many indices ({used}) for a tensor of rank {rank}")
    if Ellipsis not in index:
        return index + (slice(None),) * (rank - used)
    at = index.index(Ellipsis)
    return index[:at] + (slice(None),) * (rank - used) + index[at + 1:]


def getitem(t: Tensor, index: Any) -> Tensor:
    """``t[index]`` for ints, slices, Ellipsis, None and an integer Tensor (gather on axis 0)."""
    if isinstance(index, Tensor):
        return apply(OpCode.GATHER, [t, index], A.AxisAttrs(0))
    index = index if isinstance(index, tuple) else (index,)
    index = _expand_ellipsis(index, t.ndim)
    starts, ends, axes, steps = [], [], [], []
    out_shape: list[int] = []
    axis = 0
    for item in index:
        if item is None:
            out_shape.append(1)
            continue
        size = t.shape[axis]
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            if (start, stop, step) != (0, size, 1):
                starts.append(start)
                ends.append(stop if stop >= 0 else -size - 1)  # a negative-step slice to the front
                axes.append(axis)
                steps.append(step)
            out_shape.append(len(range(start, stop, step)))
        elif isinstance(item, int):
            i = item + size if item < 0 else item
            if not 0 <= i < size:
                raise FrameworkError(f"index {item} out of range for axis {axis} of size {size}")
            starts.append(i)
            ends.append(i + 1)
            axes.append(axis)
            steps.append(1)
        else:
            raise FrameworkError(f"unsupported index {item!r} (ints, slices, None, Ellipsis)")
        axis += 1
    out = t
    if axes:
        out = apply(OpCode.SLICE, [t], A.SliceAttrs(tuple(starts), tuple(ends), tuple(axes),
                                                    tuple(steps)))
    return out.reshape(tuple(out_shape))
