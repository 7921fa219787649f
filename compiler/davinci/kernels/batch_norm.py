"""Batch normalisation: inference (running statistics) and training (batch statistics and the
running-statistics update, ONNX rule new = running * momentum + batch * (1 - momentum)).

Both end in the element-wise kernel computing y = x * inv + shift with per-channel ``inv =
scale / sqrt(var + eps)`` and ``shift = bias - mean * inv``:

- inference with constant parameters folds inv and shift at compile time into constant images
  (per-channel blocks for NC1HWC0, row vectors or per-row blocks for row-major values);
- otherwise a statistics kernel computes them on the device first. On NC1HWC0 one 32 B block
  holds 16 channels of one pixel, so per-channel sums over (N, H, W) are block-wise adds with no
  lane movement: each core takes whole C1 channel blocks, streams their pixels through UB in
  fp32 (sum and sum of squares; var = E[x^2] - mean^2, biased as in ONNX training mode),
  and writes the new running statistics plus inv and shift (fp16, in a compiler scratch image
  in GM) for the normalisation kernel.
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.elementwise import ChainKernel, emit_elementwise
from compiler.davinci.kernels.elementwise_plan import ACC, ChainOp, Ext, classify
from compiler.davinci.kernels.vector_common import (
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
from compiler.davinci.kernels.vector_ops import Geometry, Opnd, vbin, vconv_flat, vcopy, vsc, vun
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from isa.davinci import Addr, DType, Space, VBinOp, VScalarOp, VUnOp
from isa.davinci.types import BLOCK_BYTES

FP16, FP32 = DType.FP16, DType.FP32
INV, SHIFT = "\0inv", "\0shift"


@rule(OpCode.BATCH_NORM)
def lower_batch_norm(ctx: LoweringContext, node: Node) -> None:
    """Inference or training batch norm (see the module docstring)."""
    x, scale, bias, mean, var = node.inputs
    at = node.attrs
    xp = place_input(ctx, x)
    out = ctx.place(node.outputs[0])
    params = (scale, bias, mean, var)
    if not at.training and all(ctx.is_constant(v) for v in params):
        s, b, m, v = (ctx.constant(p).astype(np.float64).reshape(-1) for p in params)
        inv = s / np.sqrt(v + at.eps)
        exts = {INV: _const_ext(ctx, node, xp, "inv", inv),
                SHIFT: _const_ext(ctx, node, xp, "shift", b - m * inv)}
    else:
        if xp.layout != "nc1hwc0":
            raise CompileError(f"{node.name}: batch norm with run-time statistics is lowered for "
                               f"NC1HWC0 feature maps, not {xp.layout} values")
        inv_p, shift_p = _emit_statistics(ctx, node, xp)
        exts = {INV: Ext(INV, "chan", inv_p, chan_batch=1),
                SHIFT: Ext(SHIFT, "chan", shift_p, chan_batch=1)}
    chain = [ChainOp(OpCode.MUL, None, (x, INV)), ChainOp(OpCode.ADD, None, (ACC, SHIFT))]
    exts[x] = classify(ctx, x, out, node.name)
    kinds = {e.kind for e in exts.values()}
    mode = "rows" if kinds & {"row", "rows"} else "chan" if "chan" in kinds else "flat"
    emit_elementwise(ctx, node, ChainKernel(chain, exts, out, mode, _pads(out), 0))


def _pads(out: TensorPlacement) -> bool:
    shape = out.shape or (1,)
    return (shape[1] if out.layout == "nc1hwc0" else shape[-1]) % 16 != 0


def _const_ext(ctx: LoweringContext, node: Node, xp: TensorPlacement, what: str,
               values: np.ndarray) -> Ext:
    """A folded per-channel vector, stored the way the output's layout broadcasts it."""
    key = f"{node.name}@{what}"
    shape = xp.shape
    channels = values.astype(np.float32)
    if xp.layout == "nc1hwc0":
        return Ext(key, "chan", place_image(ctx, key, channels.reshape(1, -1, 1, 1), "nc1hwc0"))
    if len(shape) == 2:  # (N, C): channels are the last axis
        return Ext(key, "row", place_image(ctx, key, channels.reshape(1, -1), "ndp"))
    inner = numel(shape[2:-1])  # rows per channel
    rows = numel(shape[:-1])
    row_channel = (np.arange(rows) // inner) % shape[1]
    image = np.repeat(channels[row_channel].reshape(rows, 1), 16, axis=1)
    return Ext(key, "rows", place_image(ctx, key, image, "ndp"), row_map=np.arange(rows),
               row_blocks=1, prebcast=True)


def _emit_statistics(ctx: LoweringContext, node: Node, xp: TensorPlacement
                     ) -> tuple[TensorPlacement, TensorPlacement]:
    """The statistics kernels; returns the GM images of inv and shift.

    Training first runs a sums kernel: every (C1 block, share of the pixels) pair is one work
    unit, so the cores stay busy when C1 is small (64 channels = 4 blocks), each writing its
    fp32 (sum, sum of squares) partial to a scratch image; the statistics kernel adds the
    partials of each block and finishes."""
    at = node.attrs
    n, c, h, w = xp.shape
    c1, hw = -(-c // 16), h * w
    count = n * hw
    params = [place_input(ctx, v, "ndp") for v in node.inputs[1:]]
    zeros = np.zeros(c, dtype=np.float32)
    inv_p = place_image(ctx, f"{node.name}@inv", zeros, "ndp")  # scratch, written on device
    shift_p = place_image(ctx, f"{node.name}@shift", zeros, "ndp")
    outs = [ctx.place(v, "ndp") for v in node.outputs[1:]] if at.training else []
    parts, partials = 1, None
    if at.training:
        pieces = n * -(-hw // _chunk(ctx, hw))
        parts = max(1, min(vector_units(ctx) // c1, pieces))
        partials = place_image(ctx, f"{node.name}@partials",
                               np.zeros(c1 * parts * 32, dtype=np.float32), "nd", "float32")
        _emit_sums(ctx, node, xp, partials, parts)
    ranges = split(c1, vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}_stats", len(ranges))
    for core, (b0, b1) in enumerate(ranges):
        sb = streams[core]
        vecs = [sb.alloc(Space.UB, 256, f"vector {i}") for i in range(10)]
        sums = sb.alloc(Space.UB, ub_bytes(parts * 128), "partials")
        for blk in range(b0, b1):
            if partials is not None:
                copy_in(sb, sums, gm(partials, blk * parts * 128), parts * 128)
                for part in range(1, parts):
                    vbin(sb, Geometry.flat(32, FP32), VBinOp.ADD, sums, sums, sums + part * 128)
                vcopy(sb, Geometry.flat(16, FP32), vecs[0], sums)
                vcopy(sb, Geometry.flat(16, FP32), vecs[1], sums + 64)
            _finish(sb, vecs, blk, params, outs, (inv_p, shift_p), count, at)
    ctx.launch(builder, node, op="batch_norm_stats", flops=8 * c * parts,
               min_bytes=8 * c * 2, inputs=tuple(node.inputs[1:]),
               outputs=tuple(node.outputs[1:]),
               tiling=f"{len(ranges)} cores over {c1} channel blocks ({parts} partial sums each)")
    return inv_p, shift_p


def _chunk(ctx: LoweringContext, hw: int) -> int:
    """Pixels per streamed chunk: fp16 + fp32 + squares buffers, twice, in UB."""
    return max(8, min(hw, (ctx.target.ub_bytes - 8192) // (2 * 5 * BLOCK_BYTES)))


def _emit_sums(ctx: LoweringContext, node: Node, xp: TensorPlacement,
               partials: TensorPlacement, parts: int) -> None:
    """Per (channel block, pixel share): fp32 sum and sum of squares of its pixels."""
    n, c, h, w = xp.shape
    c1, hw = -(-c // 16), h * w
    chunk = _chunk(ctx, hw)
    pieces = [(batch, p0, min(chunk, hw - p0)) for batch in range(n)
              for p0 in range(0, hw, chunk)]
    shares = split(len(pieces), parts)
    tasks = [(blk, part) for blk in range(c1) for part in range(len(shares))]
    ranges = split(len(tasks), vector_units(ctx))
    builder, streams = vector_builder(ctx, f"{node.name}_sums", len(ranges))
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sets = [(sb.alloc(Space.UB, ub_bytes(chunk * BLOCK_BYTES), "pixels fp16"),
                 sb.alloc(Space.UB, ub_bytes(2 * chunk * BLOCK_BYTES), "pixels fp32"),
                 sb.alloc(Space.UB, ub_bytes(2 * chunk * BLOCK_BYTES), "squares"))
                for _ in range(2)]
        acc = [sb.alloc(Space.UB, 128, "sum"), sb.alloc(Space.UB, 128, "squares sum")]
        index = 0
        for blk, part in tasks[t0:t1]:
            p0, p1 = shares[part]
            for k, (batch, first_px, size) in enumerate(pieces[p0:p1]):
                _accumulate(sb, sets[index % 2], xp, (batch * c1 + blk) * hw + first_px, size,
                            acc[0], acc[1], k == 0)
                index += 1
            at = (blk * parts + part) * 128
            copy_out(sb, gm(partials, at), acc[0], 64)
            copy_out(sb, gm(partials, at + 64), acc[1], 64)
    ctx.launch(builder, node, op="batch_norm_sums", flops=3 * numel(xp.shape),
               min_bytes=numel(xp.shape) * 2, inputs=(node.inputs[0],), outputs=(),
               tiling=f"{len(ranges)} cores over {c1} channel blocks x {len(shares)} pixel "
                      f"shares, {chunk} pixels per chunk (fp32)")


def _accumulate(sb: StreamBuilder, bufs: tuple[Addr, Addr, Addr], xp: TensorPlacement,
                first_block: int, size: int, acc_s: Addr, acc_q: Addr, first: bool) -> None:
    """acc_s += sum of ``size`` pixels' 16 channels (fp32, two blocks); acc_q += squares."""
    x16, x32, sq = bufs
    copy_in(sb, x16, gm(xp, first_block * BLOCK_BYTES), size * BLOCK_BYTES)
    vconv_flat(sb, x32, x16, size * 16, FP32, FP16)
    vbin(sb, Geometry.flat(size * 16, FP32), VBinOp.MUL, sq, x32, x32)
    for buf, acc in ((x32, acc_s), (sq, acc_q)):
        fold_into(sb, buf, size, acc, first)


def fold_into(sb: StreamBuilder, buf: Addr, units: int, acc: Addr, first: bool) -> None:
    """acc (16 fp32 lanes) = (or +=) the sum of ``units`` 16-lane fp32 groups at ``buf``,
    added pairwise in halves (``buf`` is overwritten)."""
    while units > 1:
        half = units // 2
        keep = units - half
        vbin(sb, Geometry.flat(half * 16, FP32), VBinOp.ADD, buf, buf,
             Opnd(buf + keep * 2 * BLOCK_BYTES))
        units = keep
    two = Geometry.flat(16, FP32)
    if first:
        vcopy(sb, two, acc, buf)
    else:
        vbin(sb, two, VBinOp.ADD, acc, acc, buf)


def _finish(sb: StreamBuilder, vecs: list[Addr], blk: int, params: list[TensorPlacement],
            outs: list[TensorPlacement], targets: tuple[TensorPlacement, TensorPlacement],
            count: int, at) -> None:
    """Per 16 channels: batch (or running) mean/var, running update, inv and shift."""
    acc_s, acc_q, scale, bias, rmean, rvar, mean, var, tmp, h16 = vecs
    two = Geometry.flat(16, FP32)
    for buf, p in zip((scale, bias, rmean, rvar), params, strict=True):
        copy_in(sb, h16, gm(p, blk * BLOCK_BYTES), BLOCK_BYTES)
        vconv_flat(sb, buf, h16, 16, FP32, FP16)
    if at.training:
        vsc(sb, two, VScalarOp.MULS, mean, acc_s, 1.0 / count)
        vsc(sb, two, VScalarOp.MULS, var, acc_q, 1.0 / count)
        vbin(sb, two, VBinOp.MUL, tmp, mean, mean)
        vbin(sb, two, VBinOp.SUB, var, var, tmp)
        vsc(sb, two, VScalarOp.MAXS, var, var, 0.0)
        for batch, running, target in ((mean, rmean, outs[0]), (var, rvar, outs[1])):
            vsc(sb, two, VScalarOp.MULS, tmp, running, at.momentum)
            vsc(sb, two, VScalarOp.MULS, acc_s, batch, 1.0 - at.momentum)
            vbin(sb, two, VBinOp.ADD, tmp, tmp, acc_s)
            store_fp16(sb, h16, tmp, target, blk)
    else:
        mean, var = rmean, rvar
    vsc(sb, two, VScalarOp.ADDS, tmp, var, at.eps)
    vun(sb, two, VUnOp.RSQRT, tmp, tmp)
    vbin(sb, two, VBinOp.MUL, tmp, tmp, scale)  # inv
    store_fp16(sb, h16, tmp, targets[0], blk)
    vbin(sb, two, VBinOp.MUL, tmp, tmp, mean)
    vbin(sb, two, VBinOp.SUB, tmp, bias, tmp)  # shift = bias - mean * inv
    store_fp16(sb, h16, tmp, targets[1], blk)


def store_fp16(sb: StreamBuilder, h16: Addr, src32: Addr, target: TensorPlacement,
               blk: int) -> None:
    """Channel block ``blk`` (16 fp32 lanes at ``src32``) to ``target`` as fp16, via ``h16``."""
    vconv_flat(sb, h16, src32, 16, FP16, FP32)
    copy_out(sb, gm(target, blk * BLOCK_BYTES), h16, BLOCK_BYTES)
