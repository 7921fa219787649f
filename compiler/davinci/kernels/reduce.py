"""Reductions of row-major (ndp) values: reduce_sum / reduce_mean / reduce_max over any axes,
and argmax over the last axis.

Output element q reduces ``m`` input rows (the reduced leading axes) and, when the last axis
is reduced, the lanes of those rows. Rows are gathered per tile through a row map (burst
copies), widened to fp32 (sums of many fp16 values), folded pairwise row-wise (vadd/vmax
between whole rows), accumulated over chunks of reduced rows, and -- for a reduced last axis
-- folded block-wise inside the row and finished with one ``vcadd``/``vcmax`` per output
element written straight into its ndp position. Input padding is overwritten with the neutral
element first; output padding is written as zeros (padding rule in `vector_common`).

argmax: m = row max (as above), then e = min(|x - m| * 2^24, 1) is exactly 0 at maxima and 1
elsewhere (inputs are fp16 values, so distinct values differ by at least 2^-24), and the first
maximum is min(iota + e * L) (one ``vcmin``), converted to int32.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.movement import row_runs
from compiler.davinci.kernels.reduce_fmap import fmap_reduce_scale, lower_fmap_reduce
from compiler.davinci.kernels.vector_common import (
    blocks,
    copy_in,
    copy_out,
    copy_rows,
    gm,
    numel,
    place_image,
    place_input,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_ops import (
    MAX_REPEAT,
    MAX_STRIDE,
    Geometry,
    Opnd,
    block_reduce_rows,
    fill_row_lanes,
    full_mask,
    lane_mask,
    set_mask,
    vbin,
    vconv_flat,
    vcopy,
    vdup,
    vsc,
    vun,
)
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from framework.shapes import reduced_axes
from isa.davinci import Addr, DType, Space, VBinOp, VReduce, VReduceOp, VScalarOp, VUnOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32, INT32 = DType.FP16, DType.FP32, DType.INT32

_OPS = {OpCode.REDUCE_SUM: VBinOp.ADD, OpCode.REDUCE_MEAN: VBinOp.ADD,
        OpCode.REDUCE_MAX: VBinOp.MAX}


def _plan(ctx: LoweringContext, node: Node, axes: tuple[int, ...]
          ) -> tuple[TensorPlacement, TensorPlacement, np.ndarray, bool]:
    """(input, output, row map (outputs x reduced rows), last axis reduced)."""
    src = place_input(ctx, node.inputs[0])
    out = ctx.place(node.outputs[0])
    if src.layout != "ndp" or out.layout != "ndp":
        raise CompileError(f"{node.name}: {node.op.value} of a {src.layout} value: reductions "
                           "are lowered for row-major values (global pooling covers NC1HWC0)")
    shape = src.shape or (1,)
    rank = len(shape)
    lead_kept = [a for a in range(rank - 1) if a not in axes]
    lead_red = [a for a in range(rank - 1) if a in axes]
    rows = np.arange(numel(shape[:-1])).reshape(shape[:-1]) if rank > 1 else np.zeros(())
    row_map = np.asarray(rows).transpose(lead_kept + lead_red).reshape(
        numel([shape[a] for a in lead_kept]), numel([shape[a] for a in lead_red]))
    return src, out, row_map, (rank - 1) in axes


@rule(OpCode.REDUCE_SUM, OpCode.REDUCE_MEAN, OpCode.REDUCE_MAX)
def lower_reduce(ctx: LoweringContext, node: Node) -> None:
    """Sum, mean or max over ``axes`` (all when empty)."""
    shape = ctx.type_of(node.inputs[0]).shape or (1,)
    axes = reduced_axes(len(shape), node.attrs.axes)
    op = _OPS[node.op]
    src = place_input(ctx, node.inputs[0])
    if src.layout == "nc1hwc0":
        lower_fmap_reduce(ctx, node, src, tuple(axes), op,
                          fmap_reduce_scale(node.op, shape, tuple(axes)))
        return
    src, out, row_map, last = _plan(ctx, node, tuple(axes))
    count = numel([shape[a] for a in axes])
    scale = 1.0 / count if node.op is OpCode.REDUCE_MEAN else 1.0
    _emit_reduce(ctx, node, src, out, row_map, last, op, scale)


def _emit_reduce(ctx: LoweringContext, node: Node, src: TensorPlacement, out: TensorPlacement,
                 row_map: np.ndarray, last: bool, op: VBinOp, scale: float,
                 argmax: TensorPlacement | None = None) -> None:
    n_out, m = row_map.shape
    length = (src.shape or (1,))[-1]
    lp = blocks(length * 2) * 16
    out_shape = out.shape or (1,)
    out_len = out_shape[-1]
    out_c0 = 8 if argmax is not None else 16  # int32 indices: 8 per 32 B block
    out_lp = -(-out_len // out_c0) * out_c0
    neutral = float("-inf") if op is VBinOp.MAX else 0.0
    # elements of one output row group: when the last axis is kept an output row is one
    # kept-row; otherwise a whole output row holds out_len outputs
    per_out_row = 1 if not last else out_len if out_len > 0 else 1
    if last and out_shape[-1] == 1 and len(out_shape) == len(src.shape or (1,)):
        per_out_row = 1  # keepdims: one output element per output row
    out_rows = -(-n_out // per_out_row)
    units = vector_units(ctx)
    row_blocks_all = lp // 16
    # a kept last axis splits into column groups too, so few output rows still use every core
    col_parts = 1 if last else max(1, min(row_blocks_all, units // max(1, out_rows)))
    width = -(-row_blocks_all // col_parts)  # blocks per column group
    col_groups = [(c, min(row_blocks_all, c + width)) for c in range(0, row_blocks_all, width)]
    wp = width * 16
    budget = ctx.target.ub_bytes - 8192 - (ub_bytes(lp * 4) if argmax is not None else 0)
    row16, row32 = wp * 2, wp * 4
    # per chunk row: fp16 + fp32 copies; per output row: an fp32 accumulator row group
    chunk = max(1, min(m, budget // (2 * 4 * (row16 + row32))))
    out_w = wp if not last else out_lp
    tile = max(1, min(out_rows, budget // (2 * (chunk * per_out_row * (row16 + row32)
                                                + per_out_row * row32 + out_w * 6)),
                      -(-out_rows // max(1, units // len(col_groups)))))
    if 2 * (chunk * per_out_row * (row16 + row32) + per_out_row * row32 + out_w * 6) > budget:
        chunk = 1
    ranges = [(o0, o1, c0, c1) for o0, o1 in split(out_rows, max(1, units // len(col_groups)))
              for c0, c1 in col_groups]
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    iota = None
    if argmax is not None:
        iota = place_image(ctx, f"iota{length}", np.arange(lp, dtype=np.float32)[None, :], "ndp",
                           dtype="float32")
    for core, (o0, o1, c0, c1) in enumerate(ranges):
        sb = streams[core]
        iota_buf = None
        if iota is not None:
            iota_buf = sb.alloc(Space.UB, ub_bytes(iota.nbytes), "iota")
            copy_in(sb, iota_buf, gm(iota), iota.nbytes)
        sets = []
        for _ in range(2):
            g = tile * per_out_row
            sets.append((sb.alloc(Space.UB, ub_bytes(g * chunk * row16), "rows fp16"),
                         sb.alloc(Space.UB, ub_bytes(g * chunk * row32), "rows fp32"),
                         sb.alloc(Space.UB, ub_bytes(g * row32), "accumulator"),
                         sb.alloc(Space.UB, ub_bytes(tile * out_w * 4), "out fp32"),
                         sb.alloc(Space.UB, ub_bytes(tile * out_w * 4), "out fp16")))
        cols = (c0, c1 - c0, row_blocks_all)
        for index, t0 in enumerate(range(o0, o1, tile)):
            t1 = min(o1, t0 + tile)
            bufs = sets[index % 2]
            q0, q1 = t0 * per_out_row, min(n_out, t1 * per_out_row)
            _reduce_tile(sb, bufs, src, row_map[q0:q1], chunk, cols, op, neutral, last)
            x16, x32, acc, o32, o16 = bufs
            groups = q1 - q0
            gw = (c1 - c0) * 16
            if not last:
                # the accumulator rows are this column group of the output rows
                vsc(sb, Geometry.flat(groups * gw, FP32), VScalarOp.MULS, acc, acc, scale)
                vconv_flat(sb, o16, acc, groups * gw, FP16, FP32)
                if out_len % 16 and c1 == row_blocks_all:
                    fill_row_lanes(sb, o16 + (c1 - c0 - 1) * BLOCK_BYTES, t1 - t0, c1 - c0,
                                   out_len % 16, 16, 0.0)
                copy_rows(sb, gm(out, (t0 * row_blocks_all + c0) * BLOCK_BYTES), o16, t1 - t0,
                          c1 - c0, c1 - c0, row_blocks_all)
                continue
            vdup(sb, Geometry.flat((t1 - t0) * out_lp, FP32), o32, 0.0)
            if argmax is not None:
                _argmax_finish(sb, bufs, groups, lp, length, iota_buf, per_out_row, out_lp)
            else:
                _finish_last(sb, acc, o32, groups, lp, op, per_out_row, out_lp)
                vsc(sb, Geometry.flat((t1 - t0) * out_lp, FP32), VScalarOp.MULS, o32, o32,
                    scale)
            dtype = INT32 if argmax is not None else FP16
            vconv_flat(sb, o16, o32, (t1 - t0) * out_lp, dtype, FP32)
            row_bytes = out_lp * (4 if argmax is not None else 2)
            target = argmax if argmax is not None else out
            copy_out(sb, gm(target, t0 * row_bytes), o16, (t1 - t0) * row_bytes)
    ctx.launch(builder, node, op=node.op.value, flops=n_out * m * length,
               min_bytes=numel(src.shape) * 2 + numel(out.shape) * 2,
               inputs=(node.inputs[0],), outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores, {tile} output rows per tile, {chunk} of {m} "
                      "reduced rows per chunk (fp32)")


def _reduce_tile(sb: StreamBuilder, bufs: tuple[Addr, ...], src: TensorPlacement,
                 row_map: np.ndarray, chunk: int, cols: tuple[int, int, int], op: VBinOp,
                 neutral: float, last: bool) -> None:
    """acc row g <- op over the m input rows row_map[g] (fp32, padding neutral), for the
    column blocks cols = (first, count, of a row of this many)."""
    x16, x32, acc, _, _ = bufs
    groups, m = row_map.shape
    col0, row_blocks, src_blocks = cols
    lp = row_blocks * 16
    for j0 in range(0, m, chunk):
        j1 = min(m, j0 + chunk)
        k = j1 - j0
        flat = row_map[:, j0:j1].reshape(-1)
        for first, base, count, step in row_runs(flat, 0, flat.size):
            copy_rows(sb, x16 + first * row_blocks * BLOCK_BYTES,
                      gm(src, (base * src_blocks + col0) * BLOCK_BYTES), count, row_blocks,
                      step * src_blocks, row_blocks)
        vconv_flat(sb, x32, x16, groups * k * lp, FP32, FP16)
        length = (src.shape or (1,))[-1]
        if last and length % 16:
            first_block = length // 8
            fill_row_lanes(sb, x32 + first_block * BLOCK_BYTES, groups * k, lp // 8,
                           length % 8, lp - first_block * 8, neutral, FP32)
        # fold the k rows of each group pairwise (whole rows at a time)
        rows_left = k
        seg = k * lp // 8  # blocks per group
        while rows_left > 1:
            half = rows_left // 2
            keep = rows_left - half
            geo = Geometry(groups, half * lp, seg, FP32)
            vbin(sb, geo, op, x32, x32, Opnd(x32 + keep * lp * 4))
            rows_left = keep
        geo = Geometry(groups, lp, lp // 8, FP32)
        first_row = Opnd(x32, row_stride=seg)
        if j0 == 0:
            vcopy(sb, geo, acc, first_row)
        else:
            vbin(sb, geo, op, acc, acc, first_row)


def _finish_last(sb: StreamBuilder, acc: Addr, o32: Addr, groups: int, lp: int, op: VBinOp,
                 per_out_row: int, out_lp: int) -> None:
    """Reduce each accumulator row's lanes into its output position."""
    left = block_reduce_rows(sb, op, acc, groups, lp // 8, lp // 8, FP32)
    rop = VReduceOp.MAX if op is VBinOp.MAX else VReduceOp.SUM
    _reduce_into(sb, rop, o32, acc, groups, lp // 8, left * 8, per_out_row, out_lp)


def _reduce_into(sb: StreamBuilder, rop: VReduceOp, o32: Addr, src: Addr, groups: int,
                 src_stride: int, active: int, per_out_row: int, out_lp: int) -> None:
    """One-lane reductions of ``groups`` rows written at their ndp output positions: group g
    goes to row g // per_out_row, column g % per_out_row of the fp32 output tile."""
    if active < 64:
        set_mask(sb, lane_mask(active, 64))
    dst_stride = 1 if per_out_row > 1 else out_lp
    for g0 in range(0, groups, per_out_row if per_out_row > 1 else MAX_REPEAT):
        count = min(groups - g0, per_out_row if per_out_row > 1 else MAX_REPEAT)
        row, col = divmod(g0, per_out_row) if per_out_row > 1 else (g0, 0)
        for c0 in range(0, count, MAX_REPEAT):
            reps = min(MAX_REPEAT, count - c0)
            dst = o32 + (row * out_lp + col + c0 * dst_stride) * 4
            srca = src + (g0 + c0) * src_stride * BLOCK_BYTES
            if src_stride > MAX_STRIDE or dst_stride > MAX_STRIDE:
                for r in range(reps):
                    sb.emit(VReduce(rop, FP32, dst + r * dst_stride * 4,
                                    srca + r * src_stride * BLOCK_BYTES, 1, 1, 0, 0))
            else:
                sb.emit(VReduce(rop, FP32, dst, srca, reps, 1, src_stride, dst_stride))
    if active < 64:
        full_mask(sb)


def _argmax_finish(sb: StreamBuilder, bufs: tuple[Addr, ...], groups: int, lp: int,
                   length: int, iota: Addr | None, per_out_row: int, out_lp: int) -> None:
    """acc rows hold the input rows (m = 1); write the first maximum's index per row."""
    x16, x32, acc, o32, _ = bufs
    assert iota is not None
    row = Geometry(groups, lp, lp // 8, FP32)
    vcopy(sb, row, x32, acc)  # keep the values; acc becomes the per-row max broadcast
    stat = x16  # fp16 rows buffer is free now: per-row max blocks (fp32)
    from compiler.davinci.kernels.vector_ops import row_stat

    row_stat(sb, VBinOp.MAX, acc, stat, groups, lp // 8, lp // 8, FP32)
    vbin(sb, row, VBinOp.SUB, x32, x32, Opnd(stat, row_stride=1, blk_stride=0))
    vun(sb, row, VUnOp.ABS, x32, x32)
    vsc(sb, row, VScalarOp.MULS, x32, x32, float(2 ** 24))
    vsc(sb, row, VScalarOp.MINS, x32, x32, 1.0)
    vsc(sb, row, VScalarOp.MULS, x32, x32, float(lp))
    vbin(sb, row, VBinOp.ADD, x32, x32, Opnd(iota, row_stride=0))
    if length % 16:  # padded lanes must never win
        first_block = length // 8
        fill_row_lanes(sb, x32 + first_block * BLOCK_BYTES, groups, lp // 8, length % 8,
                       lp - first_block * 8, float(2 * lp), FP32)
    left = block_reduce_rows(sb, VBinOp.MIN, x32, groups, lp // 8, lp // 8, FP32)
    _reduce_into(sb, VReduceOp.MIN, o32, x32, groups, lp // 8, left * 8, per_out_row, out_lp)


@rule(OpCode.ARGMAX)
def lower_argmax(ctx: LoweringContext, node: Node) -> None:
    """Index of the first maximum along the last axis (int32 on the device)."""
    shape = ctx.type_of(node.inputs[0]).shape or (1,)
    axes = reduced_axes(len(shape), node.attrs.axes)
    if list(axes) != [len(shape) - 1]:
        raise CompileError(f"{node.name}: argmax over axes {axes}: only the last axis is "
                           "lowered on DaVinci")
    src, out, row_map, _ = _plan(ctx, node, tuple(axes))
    _emit_reduce(ctx, node, src, out, row_map, True, VBinOp.MAX, 1.0, argmax=out)
