"""The training batch-norm backward (batch_norm_grad) on NC1HWC0 as two kernels, as MindSpore
runs it (BNTrainingReduceGrad / BNTrainingUpdateGrad), each reading the activations once.

1. the reduce kernel (``_grad_sums``): one pass over x and dy computing, per channel in fp32,
   sum(x), sum(x*x), sum(dy) and sum(dy*x). Like the forward statistics, every (C1 channel
   block, share of the pixels) pair is a work unit, so the cores stay busy when C1 is small
   (64 channels = 4 blocks on 32 cores); each writes its four fp32 partials to a scratch image
   laid out [sum][share][channel].
2. the update kernel: every core first adds the partials of all channels and derives (fp32
   vectors over all channels at once, `_Coefficients`), with M elements per channel, mean,
   inv = 1/sqrt(var + eps) (biased var = E[x^2] - mean^2), dbias = sum(dy) and
   dscale = inv * (sum(dy*x) - mean * sum(dy)) (the op's outputs, written by core 0), and the
   coefficients of dx = A * (dy + P * (x - mean)) + Q with A = scale * inv,
   P = -inv * dscale / M, Q = -A * dbias / M (fp16 per-channel vectors in UB). That is
   dx = A*dy + B*x + C with B = A*P and C = Q - B*mean; subtracting the mean first keeps fp16
   rounding relative to the centred values. Then the forward's element-wise chain machinery
   (ChainKernel, with these vectors as per-channel operands) streams x and dy once and writes
   dx once.

With ``relu_mask`` (a ReLU's backward folded in by the relu_grad_into_batch_norm_grad pass)
both kernels also stream the ReLU's input y and use where(y > 0, dy, 0) for dy: the sums
kernel masks each fp16 dy chunk before its sums, the dx chain adds the masked dy term
(chain_select's "add_relu_masked").

When nothing reads dx, a one-core coefficients kernel writes dscale and dbias instead of the
update kernel; when the coefficients would take more than half of UB (thousands of channels)
it also writes them to compiler scratch images, which the update chain then loads.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.batch_norm import fold_into
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
from compiler.davinci.kernels.vector_math import indicator
from compiler.davinci.kernels.vector_ops import Geometry, Opnd, vbin, vconv_flat, vsc, vun
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
    """The sums kernel, then the dx kernel whose every core first derives the coefficients of
    its channels from the partial sums (core 0 also writes dscale and dbias); a coefficients
    kernel instead when nothing reads dx or the coefficients do not fit UB beside the tiles
    (see the module docstring)."""
    x, dy = node.inputs[:2]
    streamed = (x, dy, node.inputs[3]) if node.attrs.relu_mask else (x, dy)
    placed_all = [place_input(ctx, v) for v in streamed]
    xp = placed_all[0]
    for value, placed in zip(streamed, placed_all, strict=True):
        if placed.layout != "nc1hwc0" or len(placed.shape) != 4:
            raise CompileError(f"{node.name}: batch_norm_grad is lowered for 4-D NC1HWC0 "
                               f"feature maps; {value} is {placed.layout} {placed.shape}")
    c = xp.shape[1]
    c1 = -(-c // 16)
    parts = _shares(ctx, xp, len(streamed))
    partials = place_image(ctx, f"{node.name}@partials",
                           np.zeros(c1 * parts * PARTIAL_BYTES // 4, np.float32), "nd", "float32")
    _grad_sums(ctx, node, placed_all, partials, parts)
    coef = _Coefficients(ctx, node, partials, parts)
    dx = node.outputs[0]
    used = dx in ctx.graph.outputs or bool(ctx.graph.consumers().get(dx))
    inline = coef.ub_bytes <= ctx.target.ub_bytes // 2
    images = None
    if not used or not inline:
        images = None if not used else [place_image(ctx, f"{node.name}@{what}",
                                                    np.zeros(c, np.float32), "ndp")
                                        for what in COEFS]  # scratch, written on the device
        _coefficient_kernel(ctx, node, coef, images)
    if not used:
        return
    out = place_output(ctx, dx, (x, dy))
    keys = [f"\0{what}" for what in COEFS]
    exts = {k: Ext(k, "chan", None if images is None else images[i], chan_batch=1)
            for i, k in enumerate(keys)}
    for value in streamed:
        exts[value] = classify(ctx, value, out, node.name)
    mean, p, a, q = keys
    add_dy = (ChainOp("add_relu_masked", None, (dy, node.inputs[3])) if node.attrs.relu_mask
              else ChainOp(OpCode.ADD, None, (ACC, dy)))
    chain = [ChainOp(OpCode.SUB, None, (x, mean)), ChainOp(OpCode.MUL, None, (ACC, p)),
             add_dy, ChainOp(OpCode.MUL, None, (ACC, a)), ChainOp(OpCode.ADD, None, (ACC, q))]

    def prologue(sb: StreamBuilder, core: int) -> dict[str, Opnd]:
        bufs = coef.emit(sb, store_grads=core == 0)
        return {k: Opnd(buf, row_stride=1, blk_stride=0) for k, buf in zip(keys, bufs, strict=True)}

    kernel = ChainKernel(chain, exts, out, "chan", c % 16 != 0, int(node.attrs.relu_mask))
    if images is None:
        kernel = replace(kernel, prologue=prologue, prologue_ub_bytes=coef.ub_bytes)
    emit_elementwise(ctx, node, kernel)


def _chunk(ctx: LoweringContext, hw: int, streamed: int) -> int:
    """Pixels per streamed chunk: the ``streamed`` fp16 inputs (x, dy, a relu mask's y), then
    x, dy, x*x and dy*x in fp32, twice."""
    return max(8, min(hw, (ctx.target.ub_bytes - 8192) // (2 * (8 + streamed) * BLOCK_BYTES)))


def _pieces(ctx: LoweringContext, xp: TensorPlacement, streamed: int
            ) -> list[tuple[int, int, int]]:
    """(sample, first pixel, pixels) of every chunk of one channel block."""
    n, _, h, w = xp.shape
    chunk = _chunk(ctx, h * w, streamed)
    return [(batch, p0, min(chunk, h * w - p0)) for batch in range(n)
            for p0 in range(0, h * w, chunk)]


def _shares(ctx: LoweringContext, xp: TensorPlacement, streamed: int) -> int:
    """Pixel shares per channel block: enough (block, share) units for every vector unit."""
    c1 = -(-xp.shape[1] // 16)
    return max(1, min(vector_units(ctx) // c1, len(_pieces(ctx, xp, streamed))))


def _grad_sums(ctx: LoweringContext, node: Node, placed: list[TensorPlacement],
               partials: TensorPlacement, parts: int) -> None:
    """Per (channel block, pixel share): the four fp32 sums of its pixels, to ``partials``;
    ``placed`` holds x, dy and (relu_mask) y."""
    xp = placed[0]
    n, c, h, w = xp.shape
    c1, hw = -(-c // 16), h * w
    chunk = _chunk(ctx, hw, len(placed))
    pieces = _pieces(ctx, xp, len(placed))
    shares = split(len(pieces), parts)
    tasks = [(blk, part) for blk in range(c1) for part in range(len(shares))]
    ranges = split(len(tasks), vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}_sums", len(ranges))
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sets = [tuple(sb.alloc(Space.UB, ub_bytes(size * chunk * BLOCK_BYTES), what)
                      for size, what in ((1, "x fp16"), (1, "dy fp16"), (2, "x fp32"),
                                         (2, "dy fp32"), (2, "x*x"), (2, "dy*x"),
                                         (1, "y fp16"))[:4 + len(placed)])
                for _ in range(2)]
        accs = [sb.alloc(Space.UB, 128, f"sum {i}") for i in range(4)]
        index = 0
        for blk, part in tasks[t0:t1]:
            p0, p1 = shares[part]
            for k, (batch, first_px, size) in enumerate(pieces[p0:p1]):
                offset = ((batch * c1 + blk) * hw + first_px) * BLOCK_BYTES
                _accumulate(sb, sets[index % 2], tuple(gm(p, offset) for p in placed), size,
                            accs, k == 0)
                index += 1
            for kind, acc in enumerate(accs):
                copy_out(sb, gm(partials, ((kind * parts + part) * c1 + blk) * 64), acc, 64)
    ctx.launch(builder, node, op="batch_norm_grad_sums",
               flops=(4 + len(placed)) * numel(xp.shape),
               min_bytes=len(placed) * numel(xp.shape) * 2,
               inputs=(*node.inputs[:2], *node.inputs[3:]), outputs=(),
               tiling=f"{len(ranges)} cores over {c1} channel blocks x {len(shares)} pixel "
                      f"shares, {chunk} pixels per chunk (fp32)")


def _accumulate(sb: StreamBuilder, bufs: tuple[Addr, ...], srcs: tuple[Addr, ...], size: int,
                accs: list[Addr], first: bool) -> None:
    """accs += sums over ``size`` pixels (16 channels each) of x, x*x, dy and dy*x; with a
    third source y, dy is first masked to where(y > 0, dy, 0) in fp16 (exact)."""
    x16, dy16, x32, dy32, xx, dyx = bufs[:6]
    copy_in(sb, x16, srcs[0], size * BLOCK_BYTES)
    copy_in(sb, dy16, srcs[1], size * BLOCK_BYTES)
    if len(srcs) == 3:
        y16 = bufs[6]
        copy_in(sb, y16, srcs[2], size * BLOCK_BYTES)
        geo16 = Geometry.flat(size * 16, FP16)
        indicator(sb, geo16, Opnd(y16), equal=False)
        vbin(sb, geo16, VBinOp.MUL, dy16, dy16, y16)
    vconv_flat(sb, x32, x16, size * 16, FP32, FP16)
    vconv_flat(sb, dy32, dy16, size * 16, FP32, FP16)
    geo = Geometry.flat(size * 16, FP32)
    vbin(sb, geo, VBinOp.MUL, xx, x32, x32)
    vbin(sb, geo, VBinOp.MUL, dyx, dy32, x32)
    for buf, acc in zip((x32, xx, dy32, dyx), accs, strict=True):
        fold_into(sb, buf, size, acc, first)


class _Coefficients:
    """The per-channel math of step 2 for all channel blocks at once (fp32 vectors of C1*16
    lanes), emitted into any stream; partials are laid out [sum][share][channel]."""

    def __init__(self, ctx: LoweringContext, node: Node, partials: TensorPlacement,
                 parts: int) -> None:
        self.node, self.partials, self.parts = node, partials, parts
        shape = ctx.type_of(node.inputs[0]).shape
        self.c1 = -(-shape[1] // 16)
        self.count = numel(shape) // shape[1]
        self.scale = place_input(ctx, node.inputs[2], "ndp")
        self.outs = [ctx.place(v, "ndp") for v in node.outputs[1:]]
        lanes32, lanes16 = self.c1 * 64, self.c1 * BLOCK_BYTES
        self.ub_bytes = ub_bytes(partials.nbytes) + 3 * ub_bytes(lanes32) + \
            5 * ub_bytes(lanes16)

    def emit(self, sb: StreamBuilder, store_grads: bool) -> list[Addr]:
        """UB fp16 images of (mean, P, A, Q); dscale and dbias to GM when ``store_grads``."""
        c1, parts = self.c1, self.parts
        geo = Geometry.flat(c1 * 16, FP32)
        sums = sb.alloc(Space.UB, ub_bytes(self.partials.nbytes), "partial sums")
        inv, tmp, a = (sb.alloc(Space.UB, ub_bytes(c1 * 64), what)
                       for what in ("inv", "scratch", "A"))
        mean16, p16, a16, q16, h16 = (sb.alloc(Space.UB, ub_bytes(c1 * BLOCK_BYTES), what)
                                      for what in (*COEFS, "fp16 staging"))
        copy_in(sb, sums, gm(self.partials), self.partials.nbytes)
        s_x, s_xx, s_dy, s_dyx = (sums + kind * parts * c1 * 64 for kind in range(4))
        for total in (s_x, s_xx, s_dy, s_dyx):
            for part in range(1, parts):
                vbin(sb, geo, VBinOp.ADD, total, total, total + part * c1 * 64)
        mean = s_x  # sum(x) is not needed once the mean is known
        vsc(sb, geo, VScalarOp.MULS, mean, s_x, 1.0 / self.count)
        vsc(sb, geo, VScalarOp.MULS, inv, s_xx, 1.0 / self.count)
        vbin(sb, geo, VBinOp.MUL, tmp, mean, mean)
        vbin(sb, geo, VBinOp.SUB, inv, inv, tmp)  # biased variance
        vsc(sb, geo, VScalarOp.MAXS, inv, inv, 0.0)
        vsc(sb, geo, VScalarOp.ADDS, inv, inv, float(self.node.attrs.eps))
        vun(sb, geo, VUnOp.RSQRT, inv, inv)
        vbin(sb, geo, VBinOp.MUL, tmp, mean, s_dy)
        vbin(sb, geo, VBinOp.SUB, tmp, s_dyx, tmp)
        vbin(sb, geo, VBinOp.MUL, tmp, tmp, inv)  # dscale
        if store_grads:
            for src, out in ((tmp, self.outs[0]), (s_dy, self.outs[1])):
                vconv_flat(sb, h16, src, c1 * 16, FP16, FP32)
                copy_out(sb, gm(out), h16, c1 * BLOCK_BYTES)
        vconv_flat(sb, mean16, mean, c1 * 16, FP16, FP32)
        vbin(sb, geo, VBinOp.MUL, tmp, tmp, inv)
        vsc(sb, geo, VScalarOp.MULS, tmp, tmp, -1.0 / self.count)
        vconv_flat(sb, p16, tmp, c1 * 16, FP16, FP32)  # P = -inv * dscale / M
        copy_in(sb, h16, gm(self.scale), c1 * BLOCK_BYTES)
        vconv_flat(sb, a, h16, c1 * 16, FP32, FP16)
        vbin(sb, geo, VBinOp.MUL, a, a, inv)
        vconv_flat(sb, a16, a, c1 * 16, FP16, FP32)  # A = scale * inv
        vbin(sb, geo, VBinOp.MUL, tmp, a, s_dy)
        vsc(sb, geo, VScalarOp.MULS, tmp, tmp, -1.0 / self.count)
        vconv_flat(sb, q16, tmp, c1 * 16, FP16, FP32)  # Q = -A * dbias / M
        return [mean16, p16, a16, q16]


def _coefficient_kernel(ctx: LoweringContext, node: Node, coef: _Coefficients,
                        images: list[TensorPlacement] | None) -> None:
    """One core: dscale and dbias, plus the coefficient images when ``images`` are given."""
    builder, streams = vector_builder(ctx, f"{node.name}_coefs", 1)
    bufs = coef.emit(streams[0], store_grads=True)
    for buf, image in zip(bufs, images or [], strict=False):
        copy_out(streams[0], gm(image), buf, coef.c1 * BLOCK_BYTES)
    ctx.launch(builder, node, op="batch_norm_grad_coefs", flops=30 * coef.c1 * 16 * coef.parts,
               min_bytes=coef.partials.nbytes + coef.c1 * BLOCK_BYTES * (3 + len(images or [])),
               inputs=(node.inputs[2],), outputs=tuple(node.outputs[1:]),
               tiling=f"1 core over {coef.c1} channel blocks ({coef.parts} partial sums each)")
