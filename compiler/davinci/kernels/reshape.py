"""Reshapes and flattens: views when the stored bytes agree, data movement otherwise.

- Row-major (ndp) -> row-major with the same last axis, or both last axes whole 32 B blocks:
  the padded bytes are identical, the output is an alias.
- NC1HWC0 (N, C, 1, 1) <-> row-major (N, C): the same bytes too (one block per 16 channels).
- Row-major -> row-major otherwise: output row r holds flat elements [r Lo, (r+1) Lo), i.e.
  pieces of input rows; pieces with the same placement in every output row become one
  `movement.Piece` (GM reads may start at any element; a piece starting inside a block is
  merged under a lane mask), so a (N, C, L) -> (N, C L) flatten costs C pieces.
- NC1HWC0 -> row-major, and NC1HWC0 -> NC1HWC0 with other dims (an LRN's channel view):
  element moves by one-lane reductions (relayout.py).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.movement import Assembly, Piece, emit_assembly
from compiler.davinci.kernels.relayout import emit_tiles, refold_tiles, unfold_tiles
from compiler.davinci.kernels.vector_common import numel, place_input
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from isa.davinci.types import BLOCK_BYTES

MAX_PIECES = 4096  # beyond this many distinct piece shapes a reshape is refused


@rule(OpCode.RESHAPE, OpCode.FLATTEN)
def lower_reshape(ctx: LoweringContext, node: Node) -> None:
    """A view when the stored bytes agree, else a data-movement kernel."""
    x, y = node.inputs[0], node.outputs[0]
    src = place_input(ctx, x)
    out_shape = ctx.type_of(y).shape or (1,)
    in_shape = src.shape or (1,)
    want = ctx.layout_of(y)
    same_bytes = False
    if src.layout == "ndp" and want == "ndp":
        same_bytes = in_shape[-1] == out_shape[-1] or (in_shape[-1] % 16 == 0
                                                       and out_shape[-1] % 16 == 0)
    elif src.layout == "nc1hwc0" and in_shape[2:] == (1, 1):
        # (N, C1, 1, 1, 16) is the ndp image of (N, C) and the NC1HWC0 image of (N, C, 1, 1)
        same_bytes = (want == "ndp" and out_shape[-1] == in_shape[1]) or (
            want == "nc1hwc0" and len(out_shape) == 4 and out_shape[1] == in_shape[1]
            and out_shape[2:] == (1, 1))
    if (not same_bytes and src.layout == "ndp" and len(out_shape) == 4
            and out_shape[2:] == (1, 1) and in_shape[-1] == out_shape[1]):
        # (N, C) rows are the NC1HWC0 image of (N, C, 1, 1): store the view as a feature map
        # (a per-channel vector for the element-wise kernels) rather than moving lanes
        same_bytes, want = True, "nc1hwc0"
    if same_bytes:
        ctx.placements[y] = TensorPlacement(y, src.offset, src.nbytes, tuple(out_shape),
                                            src.dtype, want)
        return
    out = ctx.place(y)
    if src.layout == "nc1hwc0" and out.layout == "ndp":
        budget = (ctx.target.ub_bytes - 8192) // 4 // BLOCK_BYTES
        tiles, stage = unfold_tiles(src, out, budget)
        emit_tiles(ctx, node, out, src, tiles, stage, "relayout")
        return
    if src.layout == "nc1hwc0" and out.layout == "nc1hwc0":
        budget = (ctx.target.ub_bytes - 8192) // 2 // BLOCK_BYTES
        tiles, stage = refold_tiles(src, out, budget)
        emit_tiles(ctx, node, out, src, tiles, stage, "relayout")
        return
    if src.layout == "ndp" and out.layout == "ndp":
        emit_assembly(ctx, node, Assembly(out, _row_pieces(src, out, node.name)), "reshape")
        return
    raise CompileError(f"{node.name}: reshape {in_shape} ({src.layout}) -> {out_shape} "
                       f"({out.layout}) has no DaVinci lowering")


def _row_pieces(src: TensorPlacement, out: TensorPlacement, where: str) -> list[Piece]:
    """Pieces of a row-major -> row-major reshape, grouped by their shape in the row."""
    length_in = (src.shape or (1,))[-1]
    length_out = (out.shape or (1,))[-1]
    rows_out = numel((out.shape or (1,))[:-1])
    groups: dict[tuple[int, int, int], np.ndarray] = defaultdict(
        lambda: np.full(rows_out, -1, dtype=np.int64))
    for row in range(rows_out):
        flat, end = row * length_out, (row + 1) * length_out
        while flat < end:
            src_row, src_col = divmod(flat, length_in)
            count = min(end - flat, length_in - src_col)
            groups[(flat - row * length_out, src_col, count)][row] = src_row
            flat += count
        if len(groups) > MAX_PIECES:
            raise CompileError(f"{where}: reshape {src.shape} -> {out.shape} breaks rows into "
                               f"more than {MAX_PIECES} different pieces")
    return [Piece(src, row_map, src_col, dst_col, count)
            for (dst_col, src_col, count), row_map in groups.items()]
