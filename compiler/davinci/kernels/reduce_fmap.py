"""Reductions of NC1HWC0 feature maps over the spatial axes (and optionally the batch, or
everything): the per-channel sums of batch-norm backward, means over (N, H, W), and full
reductions to a scalar (a loss).

One 32 B block holds 16 channels of one pixel, so reducing pixels (and samples) keeps channels
in their lanes: block-wise fp32 folds, no lane movement. Each output block (a C1 channel block,
per sample when N is kept) streams its pixels through UB in chunks, folds them pairwise into an
fp32 accumulator, scales (mean) and stores one block, which is the NC1HWC0 image of (N or 1,
C, 1, 1) and the row-major image of (C,) / (N, C) alike. A full reduction folds every block of
the input, then reduces the 16 lanes (padded channel lanes are set to the neutral element
first, so they never mix into real channels).

When the output blocks are fewer than the vector units (batch-norm backward over a 64-channel
map has 4), each block's pixels are shared out: every core folds its share into an fp32
partial in a scratch image and a second kernel adds each block's partials, as long as that
saves more than the second launch costs.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import KernelBuilder, StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import (
    copy_in,
    copy_out,
    gm,
    place_image,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_ops import (
    Geometry,
    Opnd,
    fill_row_lanes,
    row_reduce,
    vbin,
    vconv_flat,
    vcopy,
    vdup,
    vsc,
)
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from isa.davinci import Addr, DType, Space, VBinOp, VReduceOp, VScalarOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32 = DType.FP16, DType.FP32


def lower_fmap_reduce(ctx: LoweringContext, node: Node, src: TensorPlacement,
                      axes: tuple[int, ...], op: VBinOp, scale: float) -> None:
    """Reduce an NC1HWC0 map over ``axes`` (a superset of the spatial axes)."""
    n, c, h, w = src.shape
    c1, hw = -(-c // 16), h * w
    every = set(axes) == {0, 1, 2, 3}
    if not {2, 3} <= set(axes) or (1 in axes and not every):
        raise CompileError(f"{node.name}: {node.op.value} over axes {axes} of an NC1HWC0 map: "
                           "lowered for the spatial axes (with or without N) or all axes")
    out_type = ctx.type_of(node.outputs[0])
    out = ctx.place(node.outputs[0], "nc1hwc0" if out_type.rank == 4 else None)
    keep_n = 0 not in axes
    # output block -> the (sample, block) slices it reduces
    if every:
        tasks = [[(b, k) for b in range(n) for k in range(c1)]]
    elif keep_n:
        tasks = [[(b, k)] for b in range(n) for k in range(c1)]
    else:
        tasks = [[(b, k) for b in range(n)] for k in range(c1)]
    chunk = max(8, min(hw, (ctx.target.ub_bytes - 8192) // (2 * 3 * BLOCK_BYTES)))
    # each task's pieces: (sample, block, first pixel, pixels)
    pieces = [[(b, k, p0, min(chunk, hw - p0)) for b, k in task for p0 in range(0, hw, chunk)]
              for task in tasks]
    parts = _parts(ctx, len(tasks), len(pieces[0]) * chunk * BLOCK_BYTES, len(pieces[0]))
    padded = c % 16 if every else 0
    if parts == 1:
        emit = _Emit(ctx, node.name, src, c1, hw, chunk, op, padded)
        ranges = split(len(tasks), vector_units(ctx))
        builder, streams = emit.streams(len(ranges))
        for core, sb in enumerate(streams):
            t0, t1 = ranges[core]
            acc, out16 = emit.scalars(sb)
            for task in range(t0, t1):
                emit.fold_pieces(sb, pieces[task], acc)
                _store(sb, acc, out16, gm(out, task * BLOCK_BYTES), scale, op, every)
        tiling = (f"{len(ranges)} cores over {len(tasks)} output blocks, {chunk} pixels per "
                  "chunk (fp32 block folds)")
        ctx.launch(builder, node, op=node.op.value, flops=n * c * hw,
                   min_bytes=n * c * hw * 2 + out.nbytes, inputs=(node.inputs[0],),
                   outputs=(node.outputs[0],), tiling=tiling)
        return
    _emit_split(ctx, node, src, out, pieces, parts, (c1, hw, chunk), op, scale, every, padded)


def _parts(ctx: LoweringContext, tasks: int, task_bytes: int, task_pieces: int) -> int:
    """Pixel shares per output block: more than one when there are fewer output blocks than
    vector units (a 64-channel map over N, H and W has 4) and spreading them saves more than
    the launch of the kernel that adds the shares' fp32 partials."""
    units = vector_units(ctx)
    parts = min(units // tasks, task_pieces) if tasks < units else 1
    if parts <= 1:
        return 1
    rate = ctx.target.gm_to_ub_bytes_per_cycle
    whole = task_bytes / rate
    shared = -(-tasks * parts // units) * task_bytes / parts / rate
    return parts if whole - shared > ctx.target.kernel_launch_cycles else 1


def _emit_split(ctx: LoweringContext, node: Node, src: TensorPlacement, out: TensorPlacement,
                pieces: list, parts: int, dims: tuple[int, int, int], op: VBinOp,
                scale: float, every: bool, padded: int) -> None:
    """Two kernels: every (output block, pixel share) folds its share into an fp32 partial
    (a scratch image), then each output block adds its ``parts`` partials and finishes."""
    c1, hw, chunk = dims
    partials = place_image(ctx, f"{node.name}@partials",
                           np.zeros(len(pieces) * parts * 16, dtype=np.float32), "nd",
                           "float32")
    work = [(task, share) for task in range(len(pieces))
            for share in split(len(pieces[task]), parts)]
    emit = _Emit(ctx, f"{node.name}_partials", src, c1, hw, chunk, op, padded)
    ranges = split(len(work), vector_units(ctx))
    builder, streams = emit.streams(len(ranges))
    for core, sb in enumerate(streams):
        acc, _ = emit.scalars(sb)
        for index in range(*ranges[core]):
            task, (p0, p1) = work[index]
            emit.fold_pieces(sb, pieces[task][p0:p1], acc)
            copy_out(sb, gm(partials, index * 64), acc, 64)
    numel = sum(size for task in pieces for *_, size in task) * 16
    ctx.launch(builder, node, op=node.op.value, flops=numel, min_bytes=numel * 2
               + partials.nbytes, inputs=(node.inputs[0],), outputs=(),
               tiling=f"{len(ranges)} cores over {len(pieces)} output blocks x {parts} pixel "
                      f"shares, {chunk} pixels per chunk (fp32 partials)")
    ranges = split(len(pieces), vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}_finish", len(ranges))
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sums = sb.alloc(Space.UB, ub_bytes(parts * 64), "partials")
        out16 = sb.alloc(Space.UB, 256, "result")
        for task in range(t0, t1):
            copy_in(sb, sums, gm(partials, task * parts * 64), parts * 64)
            _fold(sb, sums, parts, op)
            _store(sb, sums, out16, gm(out, task * BLOCK_BYTES), scale, op, every)
    ctx.launch(builder, node, op=node.op.value, flops=len(pieces) * parts * 16,
               min_bytes=partials.nbytes + out.nbytes, inputs=(), outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores add {parts} fp32 partials per output block")


class _Emit:
    """Streams of one reduction kernel and the per-piece fold they share."""

    def __init__(self, ctx: LoweringContext, name: str, src: TensorPlacement, c1: int, hw: int,
                 chunk: int, op: VBinOp, padded: int) -> None:
        self.ctx, self.name, self.src = ctx, name, src
        self.c1, self.hw, self.chunk, self.op, self.padded = c1, hw, chunk, op, padded
        self.neutral = float("-inf") if op is VBinOp.MAX else 0.0
        self.sets: list = []
        self.index = 0

    def streams(self, count: int) -> tuple[KernelBuilder, list[StreamBuilder]]:
        return vector_builder(self.ctx, self.name, count)

    def scalars(self, sb: StreamBuilder) -> tuple[Addr, Addr]:
        """Allocate this stream's double-buffered chunk sets; return (accumulator, result)."""
        self.sets = [(sb.alloc(Space.UB, ub_bytes(self.chunk * BLOCK_BYTES), "pixels fp16"),
                      sb.alloc(Space.UB, ub_bytes(2 * self.chunk * BLOCK_BYTES),
                               "pixels fp32")) for _ in range(2)]
        self.index = 0
        return sb.alloc(Space.UB, 256, "accumulator"), sb.alloc(Space.UB, 256, "result")

    def fold_pieces(self, sb: StreamBuilder, pieces, acc: Addr) -> None:
        """acc (16 fp32 lanes) <- the reduction of ``pieces`` (sample, block, pixel, count)."""
        for i, (b, k, p0, size) in enumerate(pieces):
            x16, x32 = self.sets[self.index % 2]
            self.index += 1
            copy_in(sb, x16, gm(self.src, ((b * self.c1 + k) * self.hw + p0) * BLOCK_BYTES),
                    size * BLOCK_BYTES)
            if self.padded and k == self.c1 - 1:
                fill_row_lanes(sb, x16, size, 1, self.padded, 16, self.neutral)
            vconv_flat(sb, x32, x16, size * 16, FP32, FP16)
            _fold(sb, x32, size, self.op)
            if i == 0:
                vcopy(sb, Geometry.flat(16, FP32), acc, x32)
            else:
                vbin(sb, Geometry.flat(16, FP32), self.op, acc, acc, x32)


def _store(sb: StreamBuilder, acc: Addr, out16: Addr, dst: Addr, scale: float, op: VBinOp,
           every: bool) -> None:
    """Finish one output block from its 16 fp32 lanes: the lanes' reduction for a full
    reduction, the mean's scale, fp16, one 32 B block to ``dst``."""
    if every:
        _finish_scalar(sb, acc, op)
    vsc(sb, Geometry.flat(16, FP32), VScalarOp.MULS, acc, acc, scale)
    if every:
        vdup(sb, Geometry.flat(16), out16, 0.0)
        vconv_flat(sb, out16, acc, 1, FP16, FP32)
    else:
        vconv_flat(sb, out16, acc, 16, FP16, FP32)
    copy_out(sb, dst, out16, BLOCK_BYTES)


def _fold(sb: StreamBuilder, x32: Addr, pixels: int, op: VBinOp) -> None:
    """Fold ``pixels`` fp32 pixel pairs of blocks (64 B each) into the first pair."""
    units = pixels
    while units > 1:
        half = units // 2
        keep = units - half
        vbin(sb, Geometry.flat(half * 16, FP32), op, x32, x32, Opnd(x32 + keep * 64))
        units = keep


def _finish_scalar(sb: StreamBuilder, acc: Addr, op: VBinOp) -> None:
    """acc[0] <- the reduction of its 16 lanes."""
    rop = VReduceOp.MAX if op is VBinOp.MAX else VReduceOp.SUM
    row_reduce(sb, rop, acc, acc, 1, 8, 16, dtype=FP32)


def fmap_reduce_scale(op: OpCode, shape: tuple[int, ...], axes: tuple[int, ...]) -> float:
    """1 / (elements reduced) for a mean, else 1."""
    if op is not OpCode.REDUCE_MEAN:
        return 1.0
    return 1.0 / float(np.prod([shape[a] for a in axes]))
