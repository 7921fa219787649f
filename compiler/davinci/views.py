"""Transposes that the Cube kernels read through instead of materialising.

A matrix product reads its operands with DMA strides, so an operand produced by a transpose
can be read straight from the transpose's input as long as each operand row is still
contiguous there: A[..., m, :] and row-form B[..., k, :] need the source's last axis to stay
last; an operand read as the rows of its transpose (``rows_t``) needs the source's last axis
to become the operand's second-to-last. Attention's ``k.permute(0, 2, 3, 1)`` and the
``x.T`` of a weight gradient are of the second kind. A transpose whose every consumer reads it
this way is never lowered on its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from framework import Graph, Node, OpCode


@dataclass(frozen=True)
class View:
    """``value`` = transpose(``source``, ``perm``)."""

    source: str
    perm: tuple[int, ...]

    def strides(self, source_shape: tuple[int, ...]) -> list[int]:
        """Element strides of the view's axes in the source's padded row-major ("ndp") form."""
        rank = len(source_shape)
        st = [0] * rank
        st[rank - 1] = 1
        if rank > 1:
            st[rank - 2] = -(-source_shape[-1] // 16) * 16
        for axis in range(rank - 3, -1, -1):
            st[axis] = st[axis + 1] * source_shape[axis + 1]
        return [st[p] for p in self.perm]

    def form(self, operand: int) -> str | None:
        """How a matmul operand (0 = A, 1 = B) reads this view, or None if it cannot."""
        last = len(self.perm) - 1
        if self.perm[-1] == last:
            return "rows"
        if self.perm[-2] == last:
            return "rows_t"
        return None


def _matmul_operand_uses(node: Node) -> list[tuple[str, int]]:
    """(value, operand index) a MATMUL (or fused matmul anchored on MATMUL) reads as A/B."""
    if node.op is OpCode.MATMUL:
        return [(node.inputs[0], 0), (node.inputs[1], 1)]
    if node.op is OpCode.FUSED and node.attrs.kind == "matmul":
        anchor = node.attrs.body.nodes[0]
        if anchor.op is OpCode.MATMUL:
            outer = dict(zip(node.attrs.body.inputs, node.inputs, strict=True))
            return [(outer[anchor.inputs[0]], 0), (outer[anchor.inputs[1]], 1)]
    return []


def find_views(graph: Graph) -> dict[str, View]:
    """Transposed values every consumer of which is a matmul that can read them in place."""
    consumers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for value in node.inputs:
            consumers.setdefault(value, []).append(node)
    views = {}
    for node in graph.nodes:
        if node.op is not OpCode.TRANSPOSE or node.inputs[0] in graph.constants:
            continue
        value = node.outputs[0]
        if value in graph.outputs or graph.types[value].rank < 2:
            continue
        view = View(node.inputs[0], tuple(node.attrs.perm))
        uses = consumers.get(value, [])
        ok = bool(uses)
        for consumer in uses:
            reads = [index for v, index in _matmul_operand_uses(consumer) if v == value]
            if not reads or any(view.form(index) is None for index in reads) \
                    or len(reads) != consumer.inputs.count(value):
                ok = False
        if ok:
            views[value] = view
    return views


def view_offsets(view: View, source_shape: tuple[int, ...], base: int,
                 batch: tuple[int, ...]) -> tuple[int, ...]:
    """Byte offset of each batch item (broadcast over ``batch``) of the view's leading axes."""
    strides = view.strides(source_shape)[:-2]
    shape = [source_shape[p] for p in view.perm[:-2]]
    shape = [1] * (len(batch) - len(shape)) + shape
    strides = [0] * (len(batch) - len(strides)) + strides
    return tuple(
        base + 2 * sum(i * (s if d != 1 else 0) for i, s, d in zip(index, strides, shape,
                                                                  strict=True))
        for index in itertools.product(*(range(d) for d in batch)))
