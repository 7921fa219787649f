"""Reductions of row-major (ndp) values: reduce_sum / reduce_mean / reduce_max over any axes,
and argmax over the last axis.

Output element q reduces ``m`` input rows (the reduced leading axes) and, when the last axis
is reduced, the lanes of those rows. Rows are gathered per tile through a row map (burst
copies), widened to fp32 (sums of many fp16 values), folded pairwise row-wise (vadd/vmax
between whole rows), accumulated over chunks of reduced rows, and -- for a reduced last axis
-- folded block-wise inside the row and finished with one ``vcadd``/``vcmax`` per output
element written straight into its ndp position. Input padding is overwritten with the neutral
element first; output padding is written as zeros (padding rule in `vector_common`). Any row
length fits UB: a long reduced last axis is read in column chunks folded into one accumulator,
a long output row is produced in segments, a wide kept last axis in narrower column groups
(`_Sizing`).

argmax: m = row max (as above), then e = min(|x - m| * 2^24, 1) is exactly 0 at maxima and 1
elsewhere (inputs are fp16 values, so distinct values differ by at least 2^-24), and the first
maximum is min(iota + e * L) (one ``vcmin``), converted to int32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Sizing:
    """How a core walks its share of a reduction through UB.

    Work is counted in units: an output row (``seg == per_out_row``) or, when one output row's
    groups do not fit UB together, a segment of ``seg`` groups (a multiple of 16, so every
    segment's outputs start on a 32 B block of the output row). ``tile`` units share a buffer
    set (one when segmenting), ``chunk`` reduced rows are gathered at a time, and each row is
    read ``width`` 16-lane blocks at a time: a reduced last axis longer than that is walked in
    column chunks folded into the same accumulator lanes, so any row length fits."""

    per_out_row: int
    seg: int
    tile: int
    chunk: int
    width: int

    @property
    def segments(self) -> int:
        """Units per output row."""
        return -(-self.per_out_row // self.seg)


def _set_bytes(groups: int, chunk: int, width: int, out_elems: int) -> int:
    """UB bytes of one buffer set: fp16 and fp32 gathered rows, the fp32 accumulator, and the
    fp32 and fp16 (int32 for argmax) output tiles."""
    lanes = width * 16
    return (ub_bytes(groups * chunk * lanes * 2) + ub_bytes(groups * chunk * lanes * 4)
            + ub_bytes(groups * lanes * 4) + 2 * ub_bytes(out_elems * 4))


def _buffer_set(sb: StreamBuilder, groups: int, chunk: int, width: int, out_elems: int
                ) -> tuple[Addr, ...]:
    """One buffer set (x16, x32, acc, o32, o16) in UB, sized as `_set_bytes` counts it."""
    lanes = width * 16
    return (sb.alloc(Space.UB, ub_bytes(groups * chunk * lanes * 2), "rows fp16"),
            sb.alloc(Space.UB, ub_bytes(groups * chunk * lanes * 4), "rows fp32"),
            sb.alloc(Space.UB, ub_bytes(groups * lanes * 4), "accumulator"),
            sb.alloc(Space.UB, ub_bytes(out_elems * 4), "out fp32"),
            sb.alloc(Space.UB, ub_bytes(out_elems * 4), "out fp16"))


def _largest(limit: int, ok: Callable[[int], bool]) -> int:
    """The largest n in 1..limit with ok(n), for ok true up to some n and false after; 0 when
    ok(1) is false."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def _chunk_cap(budget: int, width: int) -> int:
    """At most 1/8 of UB for one group's gathered rows (fp16 + fp32): the rest holds more
    groups per tile, which is what keeps the vector instructions long."""
    return max(1, budget // (8 * width * 16 * 6))


def _size_last(name: str, budget: int, per_out_row: int, out_lp: int, m: int,
               row_blocks: int, share: int, whole_row: bool) -> _Sizing:
    """Sizing of a reduction over the last axis (``whole_row``: argmax, which needs each
    row's lanes in UB at once)."""
    def fits(groups: int, chunk: int, width: int, out_elems: int) -> bool:
        return 2 * _set_bytes(groups, chunk, width, out_elems) <= budget

    # the smallest unit: a whole output row of up to 16 outputs, else a 16-output segment
    g_min, out_min = (per_out_row, out_lp) if per_out_row <= 16 else (16, 16)
    width = row_blocks
    if not fits(g_min, 1, width, out_min) and not whole_row:
        width = _largest(row_blocks, lambda w: fits(g_min, 1, w, out_min))
    if width == 0 or not fits(g_min, 1, width, out_min):
        raise CompileError(f"{name}: rows of {row_blocks * 16} elements reduced "
                           f"{g_min} at a time do not fit the {budget} B of UB")
    seg = per_out_row
    if not fits(per_out_row, 1, width, out_lp):
        seg = 16 * _largest(per_out_row // 16, lambda s: fits(16 * s, 1, width, 16 * s))
    seg_out = out_lp if seg == per_out_row else seg
    chunk = _largest(min(m, _chunk_cap(budget, width)),
                     lambda c: fits(seg, c, width, seg_out))
    tile = 1
    if seg == per_out_row:
        tile = _largest(share, lambda t: fits(t * per_out_row, chunk, width, t * out_lp))
    return _Sizing(per_out_row, seg, tile, chunk, width)


def _size_kept(budget: int, m: int, width: int, share: int) -> _Sizing:
    """Sizing of a reduction that keeps the last axis: ``width`` blocks per column group at
    most, fewer when one output row of that width does not fit."""
    def fits(rows: int, chunk: int, cols: int) -> bool:
        return 2 * _set_bytes(rows, chunk, cols, rows * cols * 16) <= budget

    width = _largest(width, lambda w: fits(1, 1, w))
    chunk = _largest(min(m, _chunk_cap(budget, width)), lambda c: fits(1, c, width))
    tile = _largest(share, lambda t: fits(t, chunk, width))
    return _Sizing(1, 1, tile, chunk, width)


def _span(sizing: _Sizing, t0: int, t1: int, n_out: int, out_lp: int
          ) -> tuple[int, int, int, int]:
    """(first group, end group, first output element, output elements) of units t0..t1."""
    p = sizing.per_out_row
    if sizing.seg == p:  # whole output rows
        return t0 * p, min(n_out, t1 * p), t0 * out_lp, (t1 - t0) * out_lp
    row, part = divmod(t0, sizing.segments)
    s0 = part * sizing.seg
    s1 = min(p, s0 + sizing.seg)
    return row * p + s0, row * p + s1, row * out_lp + s0, (out_lp if s1 == p else s1) - s0


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
    budget = ctx.target.ub_bytes - 8192 - (ub_bytes(lp * 4) if argmax is not None else 0)
    if last:
        sizing = _size_last(node.name, budget, per_out_row, out_lp, m, row_blocks_all,
                            -(-out_rows // units), argmax is not None)
        col_groups = [(0, row_blocks_all)]
    else:
        # a kept last axis splits into column groups too, so few output rows still use
        # every core
        col_parts = max(1, min(row_blocks_all, units // max(1, out_rows)))
        sizing = _size_kept(budget, m, -(-row_blocks_all // col_parts),
                            -(-out_rows // max(1, units // col_parts)))
        col_groups = [(c, min(row_blocks_all, c + sizing.width))
                      for c in range(0, row_blocks_all, sizing.width)]
    tile, chunk, width = sizing.tile, sizing.chunk, sizing.width
    ranges = [(o0, o1, c0, c1)
              for o0, o1 in split(out_rows * sizing.segments, max(1, units // len(col_groups)))
              for c0, c1 in col_groups]
    per_core = [ranges[a:b] for a, b in split(len(ranges), units)]
    builder, streams = vector_builder(ctx, node.name, len(per_core))
    iota = None
    if argmax is not None:
        iota = place_image(ctx, f"iota{length}", np.arange(lp, dtype=np.float32)[None, :], "ndp",
                           dtype="float32")
    out_w = width * 16 if not last else sizing.seg if sizing.seg < per_out_row else out_lp
    for core, core_ranges in enumerate(per_core):
        sb = streams[core]
        iota_buf = None
        if iota is not None:
            iota_buf = sb.alloc(Space.UB, ub_bytes(iota.nbytes), "iota")
            copy_in(sb, iota_buf, gm(iota), iota.nbytes)
        sets = [_buffer_set(sb, tile * sizing.seg, chunk, width, tile * out_w) for _ in range(2)]
        items = [(t0, min(o1, t0 + tile), c0, c1) for o0, o1, c0, c1 in core_ranges
                 for t0 in range(o0, o1, tile)]
        for index, (t0, t1, c0, c1) in enumerate(items):
            bufs = sets[index % 2]
            q0, q1, first_out, out_elems = _span(sizing, t0, t1, n_out, out_lp)
            acc_blocks = width if last else c1 - c0
            _reduce_tile(sb, bufs, src, row_map[q0:q1], chunk, (c0, c1 - c0, row_blocks_all),
                         op, neutral, last, acc_blocks)
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
            vdup(sb, Geometry.flat(out_elems, FP32), o32, 0.0)
            if argmax is not None:
                _argmax_finish(sb, bufs, groups, lp, length, iota_buf, per_out_row, out_lp)
            else:
                _finish_last(sb, acc, o32, groups, width * 16, op, per_out_row, out_lp)
                vsc(sb, Geometry.flat(out_elems, FP32), VScalarOp.MULS, o32, o32, scale)
            dtype = INT32 if argmax is not None else FP16
            vconv_flat(sb, o16, o32, out_elems, dtype, FP32)
            elem_bytes = 4 if argmax is not None else 2
            target = argmax if argmax is not None else out
            copy_out(sb, gm(target, first_out * elem_bytes), o16, out_elems * elem_bytes)
    ctx.launch(builder, node, op=node.op.value, flops=n_out * m * length,
               min_bytes=numel(src.shape) * 2 + numel(out.shape) * 2,
               inputs=(node.inputs[0],), outputs=(node.outputs[0],),
               tiling=_describe(sizing, len(per_core), m, row_blocks_all if last else 0))


def _describe(sizing: _Sizing, cores: int, m: int, row_blocks: int) -> str:
    """The tiling line of the kernel listing."""
    unit = ("output rows" if sizing.seg == sizing.per_out_row
            else f"segments of {sizing.seg} outputs")
    text = (f"{cores} cores, {sizing.tile} {unit} per tile, {sizing.chunk} of {m} reduced "
            "rows per chunk (fp32)")
    if row_blocks > sizing.width:
        text += f", rows read {sizing.width * 16} of {row_blocks * 16} lanes at a time"
    return text


def _reduce_tile(sb: StreamBuilder, bufs: tuple[Addr, ...], src: TensorPlacement,
                 row_map: np.ndarray, chunk: int, cols: tuple[int, int, int], op: VBinOp,
                 neutral: float, last: bool, acc_blocks: int) -> None:
    """acc row g <- op over the m input rows row_map[g] (fp32, padding neutral), for the
    column blocks cols = (first, count, of a row of this many). A reduced last axis is read
    ``acc_blocks`` blocks at a time, every column chunk folding into the same accumulator
    lanes (the lanes are summed up later, so which lane holds which column does not matter)."""
    col0, count, src_blocks = cols
    step = acc_blocks if last else count
    for c in range(col0, col0 + count, step):
        _accumulate(sb, bufs, src, row_map, chunk, (c, min(step, col0 + count - c), src_blocks),
                    op, neutral, last, acc_blocks, c == col0)


def _accumulate(sb: StreamBuilder, bufs: tuple[Addr, ...], src: TensorPlacement,
                row_map: np.ndarray, chunk: int, cols: tuple[int, int, int], op: VBinOp,
                neutral: float, last: bool, acc_blocks: int, first: bool) -> None:
    """Fold the column blocks ``cols`` of every row of row_map into the accumulator
    (``acc_blocks`` blocks per row); ``first`` initialises it."""
    x16, x32, acc, _, _ = bufs
    groups, m = row_map.shape
    col0, row_blocks, src_blocks = cols
    lp = row_blocks * 16
    length = (src.shape or (1,))[-1]
    data_lanes = length - col0 * 16  # lanes of this column chunk that hold the row's data
    for j0 in range(0, m, chunk):
        j1 = min(m, j0 + chunk)
        k = j1 - j0
        flat = row_map[:, j0:j1].reshape(-1)
        for first_row, base, count, step in row_runs(flat, 0, flat.size):
            copy_rows(sb, x16 + first_row * row_blocks * BLOCK_BYTES,
                      gm(src, (base * src_blocks + col0) * BLOCK_BYTES), count, row_blocks,
                      step * src_blocks, row_blocks)
        vconv_flat(sb, x32, x16, groups * k * lp, FP32, FP16)
        if last and data_lanes < lp:  # the chunk holding the row's padding
            first_block = data_lanes // 8
            fill_row_lanes(sb, x32 + first_block * BLOCK_BYTES, groups * k, lp // 8,
                           data_lanes % 8, lp - first_block * 8, neutral, FP32)
        # fold the k rows of each group pairwise (whole rows at a time)
        rows_left = k
        seg = k * lp // 8  # blocks per group
        while rows_left > 1:
            half = rows_left // 2
            keep = rows_left - half
            geo = Geometry(groups, half * lp, seg, FP32)
            vbin(sb, geo, op, x32, x32, Opnd(x32 + keep * lp * 4))
            rows_left = keep
        geo = Geometry(groups, lp, acc_blocks * 2, FP32)
        row0 = Opnd(x32, row_stride=seg)
        if first and j0 == 0:
            vcopy(sb, geo, acc, row0)
        else:
            vbin(sb, geo, op, acc, acc, row0)


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
