"""Pooling on NC1HWC0 feature maps: max / average (padding, stride, dilation, ceil mode) and
global average pooling.

In NC1HWC0 one 32 B block holds the 16 channels of one pixel, so pooling is block arithmetic
with no lane shuffles: for each kernel tap (i, j) one ``vmax`` / ``vadd`` covers a whole tile of
output pixels, its source operand walking the input with a block stride of ``stride_w`` and a
repeat stride of ``stride_h`` input rows (facts/davinci.md §1.2 strides). Each (sample, C1)
slice is tiled by output rows; the input rows a tile needs are copied into a UB image already
padded with the neutral element (-inf for max, 0 for average), so padding, dilation and ceil
mode's overhang need no special cases. Average pooling divides by the reference's per-pixel
element count (count_include_pad and ceil-mode rules of framework.evaluate_nn), multiplied in
as a constant image of reciprocals when it varies.

Global average pooling folds each slice's pixels block-wise in fp32 (sums of thousands of
values) and scales by 1 / (H W).
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import (
    copy_in,
    copy_out,
    copy_rows,
    gm,
    place_image,
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
    full_mask,
    lane_mask,
    set_mask,
    vbin,
    vconv_flat,
    vcopy,
    vdup,
    vsc,
)
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from framework.evaluate_nn import _pool_divisor, _pool_geometry
from isa.davinci import Addr, DType, Space, VBinOp, VConv, VScalarOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32 = DType.FP16, DType.FP32


def _fmap(ctx: LoweringContext, value: str, where: str):
    placement = ctx.place(value, "nc1hwc0")
    if len(placement.shape) != 4:
        raise CompileError(f"{where}: pooling needs a 4-D feature map, got {placement.shape}")
    return placement


@rule(OpCode.MAX_POOL2D, OpCode.AVG_POOL2D)
def lower_pool(ctx: LoweringContext, node: Node) -> None:
    """Max / average pooling: one kernel, slices of (sample, C1) split over the cores."""
    at = node.attrs
    x, y = _fmap(ctx, node.inputs[0], node.name), _fmap(ctx, node.outputs[0], node.name)
    n, c, h, w = x.shape
    c1 = -(-c // 16)
    ho, wo = y.shape[2], y.shape[3]
    kh, kw = at.kernel
    sh, sw = at.stride
    dh, dw = at.dilation
    pt, pl = at.padding[0], at.padding[1]
    is_max = node.op is OpCode.MAX_POOL2D
    pad_value = float("-inf") if is_max else 0.0
    recip: float | TensorPlacement | None = None
    if not is_max:
        dummy = np.zeros((1, 1, h, w), dtype=np.float32)
        _, _, extra = _pool_geometry(dummy, at)
        counts = _pool_divisor(dummy, at, ho, wo, extra)
        if np.all(counts == counts.flat[0]):
            recip = float(1.0 / counts.flat[0])
        else:
            image = np.repeat((1.0 / counts).reshape(ho * wo, 1), 16, axis=1)
            recip = place_image(ctx, f"{node.name}@recip", image, "nd")
    # output rows x columns per tile: input window + output tile, twice, within UB
    budget = ctx.target.ub_bytes - 8192
    per_pixel_recip = recip is not None and not isinstance(recip, float)

    def need(r: int, q: int) -> int:
        rows_in = (r - 1) * sh + (kh - 1) * dh + 1
        cols_in = (q - 1) * sw + (kw - 1) * dw + 1
        return 2 * (rows_in * cols_in + r * q * (2 if per_pixel_recip else 1)) * BLOCK_BYTES

    rows_o, cols_o = ho, wo
    while need(rows_o, cols_o) > budget and rows_o > 1:
        rows_o = max(1, rows_o // 2)
    while need(rows_o, cols_o) > budget and cols_o > 1:
        cols_o = max(1, cols_o // 2)  # very wide rows: tile the columns too
    if need(rows_o, cols_o) > budget:
        raise CompileError(f"{node.name}: one output pixel's window does not fit in UB")
    slices = n * c1
    units = vector_units(ctx)
    if slices * -(-wo // cols_o) < units:  # few slices (batch 1): split rows over the cores
        rows_o = max(1, min(rows_o, -(-ho * slices * -(-wo // cols_o) // units)))
    tasks = [(s, o0, q0) for s in range(slices) for o0 in range(0, ho, rows_o)
             for q0 in range(0, wo, cols_o)]
    win_rows = (rows_o - 1) * sh + (kh - 1) * dh + 1
    win_cols = (cols_o - 1) * sw + (kw - 1) * dw + 1
    ranges = split(len(tasks), units)
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sets = [(sb.alloc(Space.UB, ub_bytes(win_rows * win_cols * BLOCK_BYTES), "input rows"),
                 sb.alloc(Space.UB, ub_bytes(rows_o * cols_o * BLOCK_BYTES), "output rows"),
                 sb.alloc(Space.UB, ub_bytes(rows_o * cols_o * BLOCK_BYTES), "reciprocals")
                 if per_pixel_recip else None)
                for _ in range(2)]
        for index, (s, o0, q0) in enumerate(tasks[t0:t1]):
            o1, q1 = min(ho, o0 + rows_o), min(wo, q0 + cols_o)
            cw = q1 - q0
            width_q = (cw - 1) * sw + (kw - 1) * dw + 1
            inp, out, recip_buf = sets[index % 2]
            _load_window(sb, inp, x, s, o0, o1, (h, w), (kh, sh, dh, pt), (width_q, pl, q0 * sw),
                         pad_value)
            _taps(sb, out, inp, o1 - o0, cw, width_q, (kh, kw), (sh, sw), (dh, dw), is_max)
            geo = Geometry(o1 - o0, cw * 16, cw)
            if isinstance(recip, float):
                vsc(sb, geo, VScalarOp.MULS, out, out, recip)
            elif recip_buf is not None and isinstance(recip, TensorPlacement):
                copy_rows(sb, recip_buf, gm(recip, (o0 * wo + q0) * BLOCK_BYTES), o1 - o0, cw,
                          wo, cw)
                vbin(sb, geo, VBinOp.MUL, out, out, recip_buf)
            copy_rows(sb, gm(y, ((s * ho + o0) * wo + q0) * BLOCK_BYTES), out, o1 - o0, cw,
                      cw, wo)
    taps = kh * kw * n * c * ho * wo
    ctx.launch(builder, node, op=node.op.value, flops=taps,
               min_bytes=(n * c * h * w + n * c * ho * wo) * 2, inputs=(node.inputs[0],),
               outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores over {slices} (N, C1) slices x {len(tasks) // slices} "
                      f"tiles of {rows_o} x {cols_o} output pixels, {kh * kw} tap instructions "
                      "per column chunk")


def _load_window(sb: StreamBuilder, inp: Addr, x, s: int, o0: int, o1: int,
                 hw: tuple[int, int], rows: tuple[int, int, int, int],
                 cols: tuple[int, ...], pad_value: float) -> None:
    """UB image of the padded input rows output rows o0..o1-1 read, padding included;
    ``cols`` = (width, left pad[, first padded column]) selects the columns."""
    h, w = hw
    kh, sh, dh, pt = rows
    width, pl = cols[0], cols[1]
    col_first = cols[2] if len(cols) > 2 else 0
    first = o0 * sh  # padded row of the image's first row
    count = (o1 - 1 - o0) * sh + (kh - 1) * dh + 1
    lo, hi = max(first, pt), min(first + count, pt + h)  # padded rows holding real input
    c_lo, c_hi = max(col_first, pl), min(col_first + width, pl + w)  # real input columns
    if lo > first or hi < first + count or c_lo > col_first or c_hi < col_first + width:
        vdup(sb, Geometry.flat(count * width * 16), inp, pad_value)
    if hi > lo and c_hi > c_lo:
        src = gm(x, ((s * h) + (lo - pt)) * w * BLOCK_BYTES + (c_lo - pl) * BLOCK_BYTES)
        copy_rows(sb, inp + ((lo - first) * width + c_lo - col_first) * BLOCK_BYTES, src,
                  hi - lo, c_hi - c_lo, w, width)


def _taps(sb: StreamBuilder, out: Addr, inp: Addr, rows_o: int, wo: int, width: int,
          kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
          is_max: bool) -> None:
    """out = max / sum over the kernel taps of the strided input image."""
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    geo = Geometry(rows_o, wo * 16, wo)
    op = VBinOp.MAX if is_max else VBinOp.ADD
    for i in range(kh):
        for j in range(kw):
            src = Opnd(inp + (i * dh * width + j * dw) * BLOCK_BYTES, row_stride=sh * width,
                       blk_stride=sw)
            if i == 0 and j == 0:
                vcopy(sb, geo, out, src)
            else:
                vbin(sb, geo, op, out, out, src)


@rule(OpCode.GLOBAL_AVG_POOL)
def lower_global_avg_pool(ctx: LoweringContext, node: Node) -> None:
    """Mean over H x W of every (sample, C1) slice, block-wise in fp32."""
    x, y = _fmap(ctx, node.inputs[0], node.name), _fmap(ctx, node.outputs[0], node.name)
    n, c, h, w = x.shape
    c1, hw = -(-c // 16), h * w
    slices = n * c1
    slice16 = hw * BLOCK_BYTES
    per_slice = slice16 + 2 * slice16 + BLOCK_BYTES
    budget = ctx.target.ub_bytes - 8192
    tile = max(1, min(budget // (2 * per_slice), -(-slices // vector_units(ctx)), 255))
    chunk = hw if 2 * per_slice <= budget else max(8, budget // (2 * 3 * BLOCK_BYTES) // 8 * 8)
    ranges = split(slices, vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    for core, (s0, s1) in enumerate(ranges):
        sb = streams[core]
        if chunk < hw:
            _global_pool_chunked(sb, x, y, s0, s1, hw, chunk)
            continue
        sets = [(sb.alloc(Space.UB, ub_bytes(tile * slice16), "slices fp16"),
                 sb.alloc(Space.UB, ub_bytes(tile * 2 * slice16), "slices fp32"),
                 sb.alloc(Space.UB, ub_bytes(tile * BLOCK_BYTES), "means"))
                for _ in range(2)]
        for index, t0 in enumerate(range(s0, s1, tile)):
            count = min(tile, s1 - t0)
            x16, x32, out = sets[index % 2]
            copy_in(sb, x16, gm(x, t0 * slice16), count * slice16)
            vconv_flat(sb, x32, x16, count * hw * 16, FP32, FP16)
            _fold_pairs(sb, x32, count, 2 * hw)
            # the two fp32 blocks (channels 0-7, 8-15) of each slice, scaled and narrowed
            vsc(sb, Geometry(count, 16, 2 * hw, FP32), VScalarOp.MULS, x32, x32, 1.0 / hw)
            _narrow_rows(sb, out, x32, count, 2 * hw)
            copy_out(sb, gm(y, t0 * BLOCK_BYTES), out, count * BLOCK_BYTES)
    ctx.launch(builder, node, op="global_avg_pool", flops=n * c * hw,
               min_bytes=(n * c * hw + n * c) * 2, inputs=(node.inputs[0],),
               outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores, {tile} slices of {h} x {w} per tile (fp32 sums)")


def _global_pool_chunked(sb: StreamBuilder, x, y, s0: int, s1: int, hw: int,
                         chunk: int) -> None:
    """Slices too large for UB: sum ``chunk`` pixels at a time into an fp32 accumulator."""
    sets = [(sb.alloc(Space.UB, ub_bytes(chunk * BLOCK_BYTES), "pixels fp16"),
             sb.alloc(Space.UB, ub_bytes(2 * chunk * BLOCK_BYTES), "pixels fp32"))
            for _ in range(2)]
    acc = sb.alloc(Space.UB, 256, "sum")
    out = sb.alloc(Space.UB, 256, "mean")
    index = 0
    two = Geometry.flat(16, FP32)
    for s in range(s0, s1):
        for p0 in range(0, hw, chunk):
            count = min(chunk, hw - p0)
            x16, x32 = sets[index % 2]
            index += 1
            copy_in(sb, x16, gm(x, (s * hw + p0) * BLOCK_BYTES), count * BLOCK_BYTES)
            vconv_flat(sb, x32, x16, count * 16, FP32, FP16)
            _fold_pairs(sb, x32, 1, 2 * count)
            if p0 == 0:
                vcopy(sb, two, acc, x32)
            else:
                vbin(sb, two, VBinOp.ADD, acc, acc, x32)
        vsc(sb, two, VScalarOp.MULS, acc, acc, 1.0 / hw)
        vconv_flat(sb, out, acc, 16, FP16, FP32)
        copy_out(sb, gm(y, s * BLOCK_BYTES), out, BLOCK_BYTES)


def _fold_pairs(sb: StreamBuilder, buf: Addr, rows: int, row_blocks: int) -> None:
    """Fold each row's fp32 blocks pairwise keeping channel parity (even blocks hold channels
    0-7, odd blocks 8-15) down to the first two blocks."""
    units = row_blocks // 2  # 64 B units: one pixel's 16 channels
    while units > 1:
        half = units // 2
        keep = units - half
        geo = Geometry(rows, half * 16, row_blocks, FP32)
        vbin(sb, geo, VBinOp.ADD, buf, buf, Opnd(buf + keep * 2 * BLOCK_BYTES))
        units = keep


def _narrow_rows(sb: StreamBuilder, out: Addr, x32: Addr, rows: int, row_blocks: int) -> None:
    """out block r <- the 16 fp32 values at the start of row r of x32, as fp16: one vconv
    repeat per row under a 16-lane mask."""
    if row_blocks > MAX_STRIDE:
        for r in range(rows):
            vconv_flat(sb, out + r * BLOCK_BYTES, x32 + r * row_blocks * BLOCK_BYTES, 16, FP16,
                       FP32)
        return
    set_mask(sb, lane_mask(16, 64))
    for r in range(0, rows, MAX_REPEAT):
        count = min(MAX_REPEAT, rows - r)
        sb.emit(VConv(FP16, FP32, out + r * BLOCK_BYTES, x32 + r * row_blocks * BLOCK_BYTES,
                      count, 1, 1, 1, row_blocks))
    full_mask(sb)
