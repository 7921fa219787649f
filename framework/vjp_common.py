"""Helpers shared by the VJP rule modules."""

from __future__ import annotations

from collections.abc import Sequence

from .builder import GraphBuilder

Grads = Sequence[str | None]


def unbroadcast(b: GraphBuilder, g: str, shape: Sequence[int]) -> str:
    """Sum ``g`` down to ``shape``: undo NumPy broadcasting of an operand (leading dims added,
    size-1 dims stretched) so its gradient has the operand's own shape."""
    shape = tuple(shape)
    gshape = b.shape(g)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape)
                                if d == 1 and gshape[lead + i] != 1]
    if axes:
        g = b.reduce_sum(g, axes, keepdims=True)
    return b.reshape(g, shape) if b.shape(g) != shape else g
