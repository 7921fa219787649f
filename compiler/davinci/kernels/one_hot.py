"""one_hot(indices, depth) along the last axis.

Indices (int32 on the device) are loaded once per core and widened to fp32 (exact below 2^24);
negative indices wrap once (ONNX OneHot). Each output row needs its index in every lane, and the
ISA has no lane broadcast, so each index is copied into the 8 lanes of its own fp32 block by
one-lane ``vcmax`` reductions (8 per index; grouped so one instruction serves up to 255
indices). A row is then 1 - min(|iota - index|, 1) over a constant fp32 iota row -- exactly 1
at the index and 0 elsewhere, padding included -- narrowed to fp16 and stored.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import (
    blocks,
    copy_in,
    copy_out,
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
    Geometry,
    Opnd,
    full_mask,
    lane_mask,
    set_mask,
    vbin,
    vconv_flat,
    vsc,
    vun,
)
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode
from isa.davinci import Addr, DType, Space, VBinOp, VReduce, VReduceOp, VScalarOp, VUnOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32, INT32 = DType.FP16, DType.FP32, DType.INT32


@rule(OpCode.ONE_HOT)
def lower_one_hot(ctx: LoweringContext, node: Node) -> None:
    """One-hot rows (last axis only)."""
    at = node.attrs
    ids = place_input(ctx, node.inputs[0])
    out = ctx.place(node.outputs[0])
    shape = ctx.type_of(node.inputs[0]).shape
    if at.axis not in (-1, len(shape)):
        raise CompileError(f"{node.name}: one_hot along axis {at.axis}: only the last axis is "
                           "lowered on DaVinci")
    if ids.dtype != "int32" or out.layout != "ndp":
        raise CompileError(f"{node.name}: one_hot needs int32 indices and a row-major output")
    depth = at.depth
    lp = blocks(depth * 2) * 16
    rows = numel(shape)
    per_line = shape[-1] if shape else 1
    line_pitch = -(-per_line // 8) * 8  # int32 ndp rows hold 8 per block
    lines = rows // per_line
    iota = place_image(ctx, f"iota{lp}", np.arange(lp, dtype=np.float32)[None, :], "ndp",
                       dtype="float32")
    budget = ctx.target.ub_bytes - 2 * ids.nbytes - rows * BLOCK_BYTES - lp * 4 - 8192
    tile = max(1, min(budget // (2 * lp * 6), -(-rows // vector_units(ctx)), MAX_REPEAT))
    if budget < 2 * lp * 6:
        raise CompileError(f"{node.name}: one_hot rows of {depth} do not fit UB")
    ranges = split(rows, vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    for core, (r0, r1) in enumerate(ranges):
        sb = streams[core]
        raw = sb.alloc(Space.UB, ub_bytes(ids.nbytes), "indices")
        wide = sb.alloc(Space.UB, ub_bytes(ids.nbytes), "indices fp32")
        spread = sb.alloc(Space.UB, ub_bytes(rows * BLOCK_BYTES), "index blocks")
        iota_buf = sb.alloc(Space.UB, ub_bytes(iota.nbytes), "iota")
        copy_in(sb, raw, gm(ids), ids.nbytes)
        copy_in(sb, iota_buf, gm(iota), iota.nbytes)
        count = ids.nbytes // 4
        vconv_flat(sb, wide, raw, count, FP32, INT32)
        _wrap_negative(sb, wide, raw, count, depth)
        _spread(sb, spread, wide, lines, per_line, line_pitch)
        sets = [(sb.alloc(Space.UB, ub_bytes(tile * lp * 4), "rows fp32"),
                 sb.alloc(Space.UB, ub_bytes(tile * lp * 2), "rows fp16")) for _ in range(2)]
        for index, t0 in enumerate(range(r0, r1, tile)):
            t1 = min(r1, t0 + tile)
            x32, x16 = sets[index % 2]
            geo = Geometry(t1 - t0, lp, lp // 8, FP32)
            vbin(sb, geo, VBinOp.SUB, x32, Opnd(iota_buf, row_stride=0),
                 Opnd(spread + t0 * BLOCK_BYTES, row_stride=1, blk_stride=0))
            vun(sb, geo, VUnOp.ABS, x32, x32)
            vsc(sb, geo, VScalarOp.MINS, x32, x32, 1.0)
            vsc(sb, geo, VScalarOp.MULS, x32, x32, -1.0)
            vsc(sb, geo, VScalarOp.ADDS, x32, x32, 1.0)
            vconv_flat(sb, x16, x32, (t1 - t0) * lp, FP16, FP32)
            copy_out(sb, gm(out, t0 * lp * 2), x16, (t1 - t0) * lp * 2)
    ctx.launch(builder, node, op="one_hot", flops=rows * depth, min_bytes=rows * 4 + out.nbytes,
               inputs=(node.inputs[0],), outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores, {tile} rows of {depth} per tile")


def _wrap_negative(sb: StreamBuilder, wide: Addr, scratch: Addr, count: int, depth: int) -> None:
    """index += depth where index < 0 (indices are integers, so min(max(-i, 0), 1) is the
    indicator); ``scratch`` (the raw int32 copy, no longer needed) holds it."""
    geo = Geometry.flat(count, FP32)
    vsc(sb, geo, VScalarOp.MULS, scratch, wide, -1.0)
    vsc(sb, geo, VScalarOp.MAXS, scratch, scratch, 0.0)
    vsc(sb, geo, VScalarOp.MINS, scratch, scratch, 1.0)
    vsc(sb, geo, VScalarOp.MULS, scratch, scratch, float(depth))
    vbin(sb, geo, VBinOp.ADD, wide, wide, scratch)


def _spread(sb: StreamBuilder, spread: Addr, wide: Addr, lines: int, per_line: int,
            line_pitch: int) -> None:
    """Block r of ``spread`` <- index r in all 8 fp32 lanes (one-lane vcmax per lane)."""
    for line in range(lines):
        for lane in range(8):
            if lane >= per_line:
                break
            set_mask(sb, _one_lane(lane))
            firsts = range(lane, per_line, 8)  # rows of this line read from this lane
            for chunk in range(0, len(firsts), MAX_REPEAT):
                reps = min(MAX_REPEAT, len(firsts) - chunk)
                row = line * per_line + lane + chunk * 8
                src = wide + (line * line_pitch + chunk * 8) * 4
                for k in range(8):
                    sb.emit(VReduce(VReduceOp.MAX, FP32, spread + row * BLOCK_BYTES + k * 4,
                                    src, reps, 1, 1, 64))
    full_mask(sb)


def _one_lane(lane: int) -> tuple[int, int]:
    hi_a, lo_a = lane_mask(lane + 1, 64)
    hi_b, lo_b = lane_mask(lane, 64)
    return hi_a & ~hi_b, lo_a & ~lo_b
