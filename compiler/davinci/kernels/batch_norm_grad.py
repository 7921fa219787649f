"""The training batch-norm backward (batch_norm_grad) on NC1HWC0, as MindSpore runs it: a
reduction pass and an update pass (BNTrainingReduceGrad / BNTrainingUpdateGrad), each reading
the activations once.

1. ``_grad_sums``: one pass over x and dy computing, per channel in fp32, sum(x), sum(x*x),
   sum(dy) and sum(dy*x). Like the forward statistics, every (C1 channel block, share of the
   pixels) pair is a work unit, so the cores stay busy when C1 is small (64 channels = 4 blocks
   on 32 cores); each writes its four fp32 partials to a scratch image.
2. ``_grad_coefficients`` (per channel, tiny): adds the partials and derives, with M elements
   per channel, mean, inv = 1/sqrt(var + eps) (biased var = E[x^2] - mean^2), dbias = sum(dy),
   dscale = inv * (sum(dy*x) - mean * sum(dy)) (the op's outputs), and the coefficients of
   dx = A * (dy + P * (x - mean)) + Q with A = scale * inv, P = -inv * dscale / M and
   Q = -A * dbias / M (fp16, in compiler scratch images). This is dx = A*dy + B*x + C with
   B = A*P and C = Q - B*mean; subtracting the mean first keeps fp16 rounding relative to the
   centred values.
3. the element-wise update: that chain with per-channel operands (the forward's ChainKernel),
   reading x and dy once and writing dx once; skipped when nothing reads dx.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.batch_norm import fold_into, store_fp16
from compiler.davinci.kernels.elementwise import ChainKernel, emit_elementwise
from compiler.davinci.kernels.elementwise_plan import ACC, ChainOp, Ext, classify
from compiler.davinci.kernels.vector_common import (
    copy_in,
    copy_out,
    gm,
    numel,
    place_image,
    place_input,
    place_output,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_ops import Geometry, vbin, vconv_flat, vsc, vun
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from isa.davinci import Addr, DType, Space, VBinOp, VScalarOp, VUnOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32 = DType.FP16, DType.FP32
COEFS = ("mean", "p", "a", "q")  # scratch images of the dx chain, in this order
PARTIAL_BYTES = 4 * 64  # per (block, share): sum x, sum x^2, sum dy, sum dy*x (16 fp32 each)


@rule(OpCode.BATCH_NORM_GRAD)
def lower_batch_norm_grad(ctx: LoweringContext, node: Node) -> None:
    """Sums, coefficients and (when dx is used) the dx update (see the module docstring)."""
    x, dy = node.inputs[:2]
    xp, dyp = place_input(ctx, x), place_input(ctx, dy)
    for value, placed in ((x, xp), (dy, dyp)):
        if placed.layout != "nc1hwc0" or len(placed.shape) != 4:
            raise CompileError(f"{node.name}: batch_norm_grad is lowered for 4-D NC1HWC0 "
                               f"feature maps; {value} is {placed.layout} {placed.shape}")
    n, c, h, w = xp.shape
    parts = _shares(ctx, xp)
    partials = place_image(ctx, f"{node.name}@partials",
                           np.zeros(-(-c // 16) * parts * PARTIAL_BYTES // 4, np.float32),
                           "nd", "float32")
    _grad_sums(ctx, node, xp, dyp, partials, parts)
    coefs = [place_image(ctx, f"{node.name}@{what}", np.zeros(c, np.float32), "ndp")
             for what in COEFS]  # scratch, written on the device
    _grad_coefficients(ctx, node, partials, parts, coefs)
    dx = node.outputs[0]
    if dx not in ctx.graph.outputs and not ctx.graph.consumers().get(dx):
        return
    out = place_output(ctx, dx, (x, dy))
    keys = [f"\0{what}" for what in COEFS]
    exts = {k: Ext(k, "chan", p, chan_batch=1) for k, p in zip(keys, coefs, strict=True)}
    exts[x] = classify(ctx, x, out, node.name)
    exts[dy] = classify(ctx, dy, out, node.name)
    mean, p, a, q = keys
    chain = [ChainOp(OpCode.SUB, None, (x, mean)), ChainOp(OpCode.MUL, None, (ACC, p)),
             ChainOp(OpCode.ADD, None, (ACC, dy)), ChainOp(OpCode.MUL, None, (ACC, a)),
             ChainOp(OpCode.ADD, None, (ACC, q))]
    emit_elementwise(ctx, node, ChainKernel(chain, exts, out, "chan", c % 16 != 0, 0))


def _chunk(ctx: LoweringContext, hw: int) -> int:
    """Pixels per streamed chunk: x and dy in fp16, x, dy, x*x and dy*x in fp32, twice."""
    return max(8, min(hw, (ctx.target.ub_bytes - 8192) // (2 * 10 * BLOCK_BYTES)))


def _pieces(ctx: LoweringContext, xp: TensorPlacement) -> list[tuple[int, int, int]]:
    """(sample, first pixel, pixels) of every chunk of one channel block."""
    n, _, h, w = xp.shape
    chunk = _chunk(ctx, h * w)
    return [(batch, p0, min(chunk, h * w - p0)) for batch in range(n)
            for p0 in range(0, h * w, chunk)]


def _shares(ctx: LoweringContext, xp: TensorPlacement) -> int:
    """Pixel shares per channel block: enough (block, share) units for every vector unit."""
    c1 = -(-xp.shape[1] // 16)
    return max(1, min(vector_units(ctx) // c1, len(_pieces(ctx, xp))))


def _grad_sums(ctx: LoweringContext, node: Node, xp: TensorPlacement, dyp: TensorPlacement,
               partials: TensorPlacement, parts: int) -> None:
    """Per (channel block, pixel share): the four fp32 sums of its pixels, to ``partials``."""
    n, c, h, w = xp.shape
    c1, hw = -(-c // 16), h * w
    chunk = _chunk(ctx, hw)
    pieces = _pieces(ctx, xp)
    shares = split(len(pieces), parts)
    tasks = [(blk, part) for blk in range(c1) for part in range(len(shares))]
    ranges = split(len(tasks), vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}_sums", len(ranges))
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sets = [tuple(sb.alloc(Space.UB, ub_bytes(size * chunk * BLOCK_BYTES), what)
                      for size, what in ((1, "x fp16"), (1, "dy fp16"), (2, "x fp32"),
                                         (2, "dy fp32"), (2, "x*x"), (2, "dy*x")))
                for _ in range(2)]
        accs = [sb.alloc(Space.UB, 128, f"sum {i}") for i in range(4)]
        index = 0
        for blk, part in tasks[t0:t1]:
            p0, p1 = shares[part]
            for k, (batch, first_px, size) in enumerate(pieces[p0:p1]):
                offset = ((batch * c1 + blk) * hw + first_px) * BLOCK_BYTES
                _accumulate(sb, sets[index % 2], (gm(xp, offset), gm(dyp, offset)), size,
                            accs, k == 0)
                index += 1
            at = (blk * parts + part) * PARTIAL_BYTES
            for i, acc in enumerate(accs):
                copy_out(sb, gm(partials, at + 64 * i), acc, 64)
    ctx.launch(builder, node, op="batch_norm_grad_sums", flops=6 * numel(xp.shape),
               min_bytes=2 * numel(xp.shape) * 2, inputs=tuple(node.inputs[:2]), outputs=(),
               tiling=f"{len(ranges)} cores over {c1} channel blocks x {len(shares)} pixel "
                      f"shares, {chunk} pixels per chunk (fp32)")


def _accumulate(sb: StreamBuilder, bufs: tuple[Addr, ...], srcs: tuple[Addr, Addr], size: int,
                accs: list[Addr], first: bool) -> None:
    """accs += sums over ``size`` pixels (16 channels each) of x, x*x, dy and dy*x."""
    x16, dy16, x32, dy32, xx, dyx = bufs
    copy_in(sb, x16, srcs[0], size * BLOCK_BYTES)
    copy_in(sb, dy16, srcs[1], size * BLOCK_BYTES)
    vconv_flat(sb, x32, x16, size * 16, FP32, FP16)
    vconv_flat(sb, dy32, dy16, size * 16, FP32, FP16)
    geo = Geometry.flat(size * 16, FP32)
    vbin(sb, geo, VBinOp.MUL, xx, x32, x32)
    vbin(sb, geo, VBinOp.MUL, dyx, dy32, x32)
    for buf, acc in zip((x32, xx, dy32, dyx), accs, strict=True):
        fold_into(sb, buf, size, acc, first)


def _grad_coefficients(ctx: LoweringContext, node: Node, partials: TensorPlacement,
                       parts: int, coefs: list[TensorPlacement]) -> None:
    """Per 16 channels: add the partials, then dscale, dbias and the dx coefficients."""
    c = ctx.type_of(node.inputs[0]).shape[1]
    c1 = -(-c // 16)
    count = numel(ctx.type_of(node.inputs[0]).shape) // c
    scale_p = place_input(ctx, node.inputs[2], "ndp")
    outs = [ctx.place(v, "ndp") for v in node.outputs[1:]]
    ranges = split(c1, vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}_coefs", len(ranges))
    two = Geometry.flat(16, FP32)
    for core, (b0, b1) in enumerate(ranges):
        sb = streams[core]
        sums = sb.alloc(Space.UB, ub_bytes(parts * PARTIAL_BYTES), "partials")
        scale, mean, inv, tmp, a, h16 = (sb.alloc(Space.UB, 256, f"vector {i}")
                                         for i in range(6))
        s_x, s_xx, s_dy, s_dyx = (sums + 64 * i for i in range(4))
        for blk in range(b0, b1):
            copy_in(sb, sums, gm(partials, blk * parts * PARTIAL_BYTES), parts * PARTIAL_BYTES)
            for part in range(1, parts):
                vbin(sb, Geometry.flat(64, FP32), VBinOp.ADD, sums, sums,
                     sums + part * PARTIAL_BYTES)
            copy_in(sb, h16, gm(scale_p, blk * BLOCK_BYTES), BLOCK_BYTES)
            vconv_flat(sb, scale, h16, 16, FP32, FP16)
            vsc(sb, two, VScalarOp.MULS, mean, s_x, 1.0 / count)
            vsc(sb, two, VScalarOp.MULS, inv, s_xx, 1.0 / count)
            vbin(sb, two, VBinOp.MUL, tmp, mean, mean)
            vbin(sb, two, VBinOp.SUB, inv, inv, tmp)  # biased variance
            vsc(sb, two, VScalarOp.MAXS, inv, inv, 0.0)
            vsc(sb, two, VScalarOp.ADDS, inv, inv, float(node.attrs.eps))
            vun(sb, two, VUnOp.RSQRT, inv, inv)
            store_fp16(sb, h16, s_dy, outs[1], blk)  # dbias
            vbin(sb, two, VBinOp.MUL, tmp, mean, s_dy)
            vbin(sb, two, VBinOp.SUB, tmp, s_dyx, tmp)
            vbin(sb, two, VBinOp.MUL, tmp, tmp, inv)  # dscale
            store_fp16(sb, h16, tmp, outs[0], blk)
            store_fp16(sb, h16, mean, coefs[0], blk)
            vbin(sb, two, VBinOp.MUL, tmp, tmp, inv)
            vsc(sb, two, VScalarOp.MULS, tmp, tmp, -1.0 / count)  # P
            store_fp16(sb, h16, tmp, coefs[1], blk)
            vbin(sb, two, VBinOp.MUL, a, scale, inv)  # A
            store_fp16(sb, h16, a, coefs[2], blk)
            vbin(sb, two, VBinOp.MUL, tmp, a, s_dy)
            vsc(sb, two, VScalarOp.MULS, tmp, tmp, -1.0 / count)  # Q
            store_fp16(sb, h16, tmp, coefs[3], blk)
    ctx.launch(builder, node, op="batch_norm_grad_coefs", flops=20 * c * parts,
               min_bytes=c1 * (parts * PARTIAL_BYTES + 7 * BLOCK_BYTES),
               inputs=(node.inputs[2],), outputs=tuple(node.outputs[1:]),
               tiling=f"{len(ranges)} cores over {c1} channel blocks ({parts} partial sums each)")
