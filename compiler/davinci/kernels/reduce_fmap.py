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
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import (
    copy_in,
    copy_out,
    gm,
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
    ranges = split(len(tasks), vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    neutral = float("-inf") if op is VBinOp.MAX else 0.0
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sets = [(sb.alloc(Space.UB, ub_bytes(chunk * BLOCK_BYTES), "pixels fp16"),
                 sb.alloc(Space.UB, ub_bytes(2 * chunk * BLOCK_BYTES), "pixels fp32"))
                for _ in range(2)]
        acc = sb.alloc(Space.UB, 256, "accumulator")
        out16 = sb.alloc(Space.UB, 256, "result")
        index = 0
        for task in range(t0, t1):
            first = True
            for b, k in tasks[task]:
                for p0 in range(0, hw, chunk):
                    size = min(chunk, hw - p0)
                    x16, x32 = sets[index % 2]
                    index += 1
                    copy_in(sb, x16, gm(src, ((b * c1 + k) * hw + p0) * BLOCK_BYTES),
                            size * BLOCK_BYTES)
                    if every and k == c1 - 1 and c % 16:
                        fill_row_lanes(sb, x16, size, 1, c % 16, 16, neutral)
                    vconv_flat(sb, x32, x16, size * 16, FP32, FP16)
                    _fold(sb, x32, size, op)
                    if first:
                        vcopy(sb, Geometry.flat(16, FP32), acc, x32)
                    else:
                        vbin(sb, Geometry.flat(16, FP32), op, acc, acc, x32)
                    first = False
            if every:
                _finish_scalar(sb, acc, op)
            vsc(sb, Geometry.flat(16, FP32), VScalarOp.MULS, acc, acc, scale)
            if every:
                vdup(sb, Geometry.flat(16), out16, 0.0)
                vconv_flat(sb, out16, acc, 1, FP16, FP32)
            else:
                vconv_flat(sb, out16, acc, 16, FP16, FP32)
            copy_out(sb, gm(out, task * BLOCK_BYTES), out16, BLOCK_BYTES)
    ctx.launch(builder, node, op=node.op.value, flops=n * c * hw,
               min_bytes=n * c * hw * 2 + out.nbytes, inputs=(node.inputs[0],),
               outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores over {len(tasks)} output blocks, {chunk} pixels "
                      "per chunk (fp32 block folds)")


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
