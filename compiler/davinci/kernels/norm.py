"""Row normalisations on row-major (ndp) values: softmax, log_softmax and layer norm.

Each kernel walks tiles of whole rows (double-buffered, rows split over the cores). A tile is
loaded as fp16, converted to fp32 (sums of hundreds of fp16 values lose too much otherwise, and
a per-row statistic costs 8 one-lane reductions in fp32 against 16 in fp16: see
`vector_ops.row_stat`), normalised, converted back and stored. Padded lanes are set to the
neutral element before each reduction (-inf for the max, 0 for sums); softmax leaves zeros in
them (exp(-inf) = 0), log_softmax and layer norm write zeros explicitly (padding rule in
`vector_common`).

Accuracy: fp32 arithmetic on fp16 inputs, rounded once to fp16 at the end, except vexp/vln/
vrsqrt (one fp32 evaluation each): results within 1-2 fp16 ulp of the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import (
    blocks,
    copy_in,
    copy_out,
    gm,
    numel,
    place_input,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_ops import (
    Geometry,
    Opnd,
    fill_row_lanes,
    row_stat,
    vbin,
    vconv_flat,
    vcopy,
    vsc,
    vun,
)
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode
from framework.shape_utils import norm_axis
from isa.davinci import Addr, DType, Space, VBinOp, VScalarOp, VUnOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32 = DType.FP16, DType.FP32
NEG_INF = float("-inf")


@dataclass(frozen=True)
class RowShape:
    """``segments`` normalised groups, each ``group`` stored rows of ``length`` elements
    (``padded`` with the ndp padding)."""

    segments: int
    group: int
    length: int

    @property
    def padded(self) -> int:
        return blocks(self.length * 2) * 16

    @property
    def seg_elems(self) -> int:
        return self.group * self.padded

    def rows16(self, segs: int) -> int:
        return segs * self.group


@dataclass
class TileBufs:
    """One buffer set: the fp16 tile, the fp32 tile, an fp32 work tile, two statistic rows."""

    x16: Addr
    x32: Addr
    work: Addr
    stat: Addr
    stat2: Addr


TileBody = Callable[[StreamBuilder, TileBufs, RowShape, int], None]


def _row_shape(ctx: LoweringContext, value: str, axis: int, where: str) -> RowShape:
    shape = ctx.type_of(value).shape or (1,)
    axis = norm_axis(axis, len(shape))
    placement = ctx.place(value)
    if placement.layout != "ndp":
        raise CompileError(f"{where}: normalisation of a {placement.layout} value has no DaVinci "
                           "lowering (row-major values only)")
    return RowShape(numel(shape[:axis]), numel(shape[axis:-1]), shape[-1])


def _emit_rows(ctx: LoweringContext, node: Node, src: str, dst: str, rs: RowShape,
               body: TileBody, op: str, flops_per_elem: int, extra_ub: int = 0,
               prologue: Callable[[StreamBuilder], None] | None = None) -> None:
    """Tile the segments over cores and buffers; ``body`` normalises one loaded tile."""
    seg16 = rs.seg_elems * 2
    per_seg = seg16 + 2 * rs.seg_elems * 4 + 4 * BLOCK_BYTES
    budget = ctx.target.ub_bytes - extra_ub - 4096
    fit = budget // (2 * per_seg)
    if fit < 1:
        raise CompileError(f"{node.name}: one normalised group of {rs.seg_elems} elements needs "
                           f"{2 * per_seg} B of UB, more than the {budget} B available")
    share = -(-rs.segments // vector_units(ctx))
    tile = max(1, min(fit, share, 255 // max(1, rs.group)))
    ranges = split(rs.segments, vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    src_p, dst_p = ctx.place(src), ctx.place(dst)
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        if prologue is not None:
            prologue(sb)
        sets = [TileBufs(sb.alloc(Space.UB, ub_bytes(tile * seg16), "x16"),
                         sb.alloc(Space.UB, ub_bytes(tile * rs.seg_elems * 4), "x32"),
                         sb.alloc(Space.UB, ub_bytes(tile * rs.seg_elems * 4), "work"),
                         sb.alloc(Space.UB, ub_bytes(tile * BLOCK_BYTES), "stat"),
                         sb.alloc(Space.UB, ub_bytes(tile * BLOCK_BYTES), "stat2"))
                for _ in range(2)]
        first, last = t0, t1
        for index, s0 in enumerate(range(first, last, tile)):
            segs = min(tile, last - s0)
            bufs = sets[index % 2]
            copy_in(sb, bufs.x16, gm(src_p, s0 * seg16), segs * seg16)
            vconv_flat(sb, bufs.x32, bufs.x16, segs * rs.seg_elems, FP32, FP16)
            body(sb, bufs, rs, segs)
            vconv_flat(sb, bufs.x16, bufs.x32, segs * rs.seg_elems, FP16, FP32)
            if rs.length % 16:
                fill_row_lanes(sb, bufs.x16 + (rs.padded // 16 - 1) * BLOCK_BYTES,
                               rs.rows16(segs), rs.padded // 16, rs.length % 16, 16, 0.0)
            copy_out(sb, gm(dst_p, s0 * seg16), bufs.x16, segs * seg16)
    total = rs.segments * rs.group * rs.length
    ctx.launch(builder, node, op=op, flops=total * flops_per_elem,
               min_bytes=2 * total * 2, inputs=tuple(node.inputs), outputs=(dst,),
               tiling=f"{len(ranges)} cores, {tile} x {rs.group} rows of {rs.length} per tile "
                      "(fp32 in UB), double-buffered")


def _fill_pads(sb: StreamBuilder, x32: Addr, rs: RowShape, segs: int, value: float) -> None:
    """Neutral element into the padded lanes of every fp32 row (they may span two blocks)."""
    if rs.length % 16 == 0:
        return
    row_blocks32 = rs.padded // 8
    first_block = rs.length // 8
    fill_row_lanes(sb, x32 + first_block * BLOCK_BYTES, rs.rows16(segs), row_blocks32,
                   rs.length % 8, rs.padded - first_block * 8, value, FP32)


def _geo32(rs: RowShape, segs: int) -> Geometry:
    """The fp32 tile as rows of whole segments."""
    return Geometry(segs, rs.seg_elems, rs.seg_elems // 8, FP32)


def _stat(sb: StreamBuilder, op: VBinOp, bufs: TileBufs, rs: RowShape, segs: int,
          out: Addr) -> None:
    """out block s <- reduction of segment s of x32 (padding already neutral)."""
    geo = _geo32(rs, segs)
    vcopy(sb, geo, bufs.work, bufs.x32)
    row_stat(sb, op, bufs.work, out, segs, rs.seg_elems // 8, rs.seg_elems // 8, FP32)


def _per_seg(addr: Addr) -> Opnd:
    return Opnd(addr, row_stride=1, blk_stride=0)


def _softmax_body(log: bool) -> TileBody:
    def body(sb: StreamBuilder, bufs: TileBufs, rs: RowShape, segs: int) -> None:
        geo = _geo32(rs, segs)
        stats = Geometry.flat(segs * 8, FP32)
        _fill_pads(sb, bufs.x32, rs, segs, NEG_INF)
        _stat(sb, VBinOp.MAX, bufs, rs, segs, bufs.stat)
        vbin(sb, geo, VBinOp.SUB, bufs.x32, bufs.x32, _per_seg(bufs.stat))
        if log:
            vun(sb, geo, VUnOp.EXP, bufs.work, bufs.x32)
            row_stat(sb, VBinOp.ADD, bufs.work, bufs.stat2, segs, rs.seg_elems // 8,
                     rs.seg_elems // 8, FP32)
            vun(sb, stats, VUnOp.LN, bufs.stat2, bufs.stat2)
            vbin(sb, geo, VBinOp.SUB, bufs.x32, bufs.x32, _per_seg(bufs.stat2))
        else:
            vun(sb, geo, VUnOp.EXP, bufs.x32, bufs.x32)
            _stat(sb, VBinOp.ADD, bufs, rs, segs, bufs.stat2)
            vun(sb, stats, VUnOp.REC, bufs.stat2, bufs.stat2)
            vbin(sb, geo, VBinOp.MUL, bufs.x32, bufs.x32, _per_seg(bufs.stat2))
    return body


@rule(OpCode.SOFTMAX, OpCode.LOG_SOFTMAX)
def lower_softmax(ctx: LoweringContext, node: Node) -> None:
    """softmax / log_softmax over the last axis of a row-major value."""
    x, y = node.inputs[0], node.outputs[0]
    rank = max(1, ctx.type_of(x).rank)
    if norm_axis(node.attrs.axis, rank) != rank - 1:
        raise CompileError(f"{node.name}: {node.op.value} over axis {node.attrs.axis} of a "
                           f"rank-{rank} value: only the last axis has a DaVinci lowering")
    rs = _row_shape(ctx, x, -1, node.name)
    ctx.place(y)
    log = node.op is OpCode.LOG_SOFTMAX
    _emit_rows(ctx, node, x, y, rs, _softmax_body(log), node.op.value, 5)


@rule(OpCode.LAYER_NORM)
def lower_layer_norm(ctx: LoweringContext, node: Node) -> None:
    """(x - mean) / sqrt(var + eps) * scale + bias over the trailing axes from ``axis``."""
    x, scale, bias = node.inputs
    y = node.outputs[0]
    rs = _row_shape(ctx, x, node.attrs.axis, node.name)
    ctx.place(y)
    params = [place_input(ctx, v) for v in (scale, bias)]
    for value, p in zip((scale, bias), params, strict=True):
        if p.layout != "ndp" or numel(p.shape) != rs.group * rs.length:
            raise CompileError(f"{node.name}: layer_norm {value} {p.shape} must cover the "
                               f"normalised axes ({rs.group} x {rs.length})")
    n = rs.group * rs.length
    eps = node.attrs.eps
    seg16 = rs.seg_elems * 2
    vec: dict[str, Addr] = {}

    def prologue(sb: StreamBuilder) -> None:
        for name, p in zip(("scale", "bias"), params, strict=True):
            buf = sb.alloc(Space.UB, ub_bytes(seg16), name)
            copy_in(sb, buf, gm(p), seg16)
            vec[name] = buf

    def body(sb: StreamBuilder, bufs: TileBufs, rs_: RowShape, segs: int) -> None:
        geo = _geo32(rs, segs)
        stats = Geometry.flat(segs * 8, FP32)
        _fill_pads(sb, bufs.x32, rs, segs, 0.0)
        _stat(sb, VBinOp.ADD, bufs, rs, segs, bufs.stat)
        vsc(sb, stats, VScalarOp.MULS, bufs.stat, bufs.stat, 1.0 / n)
        vbin(sb, geo, VBinOp.SUB, bufs.x32, bufs.x32, _per_seg(bufs.stat))
        _fill_pads(sb, bufs.x32, rs, segs, 0.0)
        vbin(sb, geo, VBinOp.MUL, bufs.work, bufs.x32, bufs.x32)
        row_stat(sb, VBinOp.ADD, bufs.work, bufs.stat2, segs, rs.seg_elems // 8,
                 rs.seg_elems // 8, FP32)
        vsc(sb, stats, VScalarOp.MULS, bufs.stat2, bufs.stat2, 1.0 / n)
        vsc(sb, stats, VScalarOp.ADDS, bufs.stat2, bufs.stat2, eps)
        vun(sb, stats, VUnOp.RSQRT, bufs.stat2, bufs.stat2)
        vbin(sb, geo, VBinOp.MUL, bufs.x32, bufs.x32, _per_seg(bufs.stat2))
        # scale and bias in fp16 after the conversion would round twice; convert them instead
        # into the work tile once per tile (segment-long vectors, re-read for every segment)
        for name, op in (("scale", VBinOp.MUL), ("bias", VBinOp.ADD)):
            vconv_flat(sb, bufs.work, vec[name], rs.seg_elems, FP32, FP16)
            vbin(sb, geo, op, bufs.x32, bufs.x32, Opnd(bufs.work, row_stride=0))

    extra = 2 * ub_bytes(seg16)
    _emit_rows(ctx, node, x, y, rs, body, "layer_norm", 8, extra, prologue)
