"""Pooling gradients on NC1HWC0: max_pool2d_grad (each output gradient to the first maximum of
its window, PyTorch's tie rule) and avg_pool2d_grad (each output gradient spread evenly).

Per (sample, C1) slice and tile of output rows, the gradient image dX of the input rows the
tile's windows touch is accumulated in UB with one instruction per kernel tap: the tap's view
of dX (block stride = stride_w, repeat stride = stride_h rows, as in pooling.py) gets += the
tile's contribution. For max pooling the contribution of tap t is dy * e_t where e_t = (x_t ==
window max) and no earlier tap matched: e_t = eq_t * r, r -= e_t with r starting at 1 (the
equality indicator of vector_math.indicator is exact on fp16 values). Consecutive tiles' input
windows overlap when kernel > stride: the overlap rows of a tile's dX are carried into the next
tile's dX before its taps; finished rows are stored, and input pixels no window touches are
written as zeros (the last tile holds every remaining input row).
"""

from __future__ import annotations

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.pooling import _fmap, _load_window, _taps
from compiler.davinci.kernels.vector_common import (
    copy_in,
    copy_rows,
    gm,
    place_image,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_math import indicator
from compiler.davinci.kernels.vector_ops import Geometry, Opnd, vbin, vcopy, vdup
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode
from framework.evaluate_nn import _pool_divisor, _pool_geometry
from isa.davinci import Addr, Space, VBinOp
from isa.davinci.types import BLOCK_BYTES


@rule(OpCode.MAX_POOL2D_GRAD, OpCode.AVG_POOL2D_GRAD)
def lower_pool_grad(ctx: LoweringContext, node: Node) -> None:
    """dX of max / average pooling from (x, dy)."""
    at = node.attrs
    x, dy = _fmap(ctx, node.inputs[0], node.name), _fmap(ctx, node.inputs[1], node.name)
    dx = _fmap(ctx, node.outputs[0], node.name)
    n, c, h, w = x.shape
    c1 = -(-c // 16)
    ho, wo = dy.shape[2], dy.shape[3]
    (kh, kw), (sh, sw), (dh, dw) = at.kernel, at.stride, at.dilation
    pt, pl = at.padding[0], at.padding[1]
    is_max = node.op is OpCode.MAX_POOL2D_GRAD
    span_w = (wo - 1) * sw + (kw - 1) * dw + 1
    width = max(span_w, pl + w)  # dX columns: every tap and every real input column
    recip = None
    if not is_max:
        dummy = np.zeros((1, 1, h, w), dtype=np.float32)
        _, _, extra = _pool_geometry(dummy, at)
        counts = _pool_divisor(dummy, at, ho, wo, extra)
        image = np.repeat((1.0 / counts).reshape(ho * wo, 1), 16, axis=1)
        recip = place_image(ctx, f"{node.name}@recip", image, "nd")
    budget = ctx.target.ub_bytes - 8192 - (recip.nbytes if recip is not None else 0)
    rows_o = ho
    while rows_o > 1 and 2 * _tile_bytes(rows_o, ho, h, pt, (kh, sh, dh), width, wo) > budget:
        rows_o = max(1, rows_o // 2)
    if 2 * _tile_bytes(rows_o, ho, h, pt, (kh, sh, dh), width, wo) > budget:
        raise CompileError(f"{node.name}: one row of the pooling gradient does not fit in UB")
    last_o0 = ((ho - 1) // rows_o) * rows_o
    rows_cap = max(_rows_in(rows_o, ho, h, pt, (kh, sh, dh)), pt + h - last_o0 * sh)
    ranges = split(n * c1, vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    geom = (h, w, ho, wo, width, pt, pl)
    for core, (s0, s1) in enumerate(ranges):
        sb = streams[core]
        recip_buf = None
        if recip is not None:
            recip_buf = sb.alloc(Space.UB, ub_bytes(recip.nbytes), "reciprocals")
            copy_in(sb, recip_buf, gm(recip), recip.nbytes)
        sets = [_alloc_set(sb, rows_cap, rows_o, width, wo) for _ in range(2)]
        index = 0
        for s in range(s0, s1):
            carry: tuple[Addr, int] | None = None
            for o0 in range(0, ho, rows_o):
                o1 = min(ho, o0 + rows_o)
                bufs = sets[index % 2]
                index += 1
                carry = _tile(sb, bufs, carry, x, dy, dx, s, (o0, o1), geom, at, is_max,
                              recip_buf)
    ctx.launch(builder, node, op=node.op.value, flops=3 * kh * kw * n * c * ho * wo,
               min_bytes=(2 * n * c * h * w + n * c * ho * wo) * 2,
               inputs=tuple(node.inputs), outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores over {n * c1} slices, {rows_o} output rows per tile")


def _rows_in(rows_o: int, ho: int, h: int, pt: int, k: tuple[int, int, int]) -> int:
    kh, sh, dh = k
    return (rows_o - 1) * sh + (kh - 1) * dh + 1


def _tile_bytes(rows_o: int, ho: int, h: int, pt: int, k: tuple[int, int, int], width: int,
                wo: int) -> int:
    last_o0 = ((ho - 1) // rows_o) * rows_o
    rows_in = max(_rows_in(rows_o, ho, h, pt, k), pt + h - last_o0 * k[1])
    return (2 * rows_in * width + 4 * rows_o * wo) * BLOCK_BYTES


def _alloc_set(sb: StreamBuilder, rows_in: int, rows_o: int, width: int, wo: int
               ) -> dict[str, Addr]:
    big = ub_bytes(rows_in * width * BLOCK_BYTES)
    small = ub_bytes(rows_o * wo * BLOCK_BYTES)
    return {"x": sb.alloc(Space.UB, big, "x window"), "dx": sb.alloc(Space.UB, big, "dx rows"),
            "m": sb.alloc(Space.UB, small, "window max"), "r": sb.alloc(Space.UB, small, "left"),
            "e": sb.alloc(Space.UB, small, "tap share"), "dy": sb.alloc(Space.UB, small, "dy")}


def _tile(sb: StreamBuilder, bufs: dict[str, Addr], carry: tuple[Addr, int] | None, x, dy,
          dx, s: int, rows: tuple[int, int], geom: tuple[int, ...], at, is_max: bool,
          recip_buf: Addr | None) -> tuple[Addr, int] | None:
    """One tile of output rows; returns the dX rows (address, count) the next tile adds."""
    h, w, ho, wo, width, pt, pl = geom
    o0, o1 = rows
    (kh, kw), (sh, sw), (dh, dw) = at.kernel, at.stride, at.dilation
    last = o1 == ho
    first_row = o0 * sh  # padded row of dX's first row
    rows_in = (o1 - 1 - o0) * sh + (kh - 1) * dh + 1
    held = max(rows_in, pt + h - first_row) if last else rows_in
    count = o1 - o0
    small = Geometry(count, wo * 16, wo)
    # dX starts as zeros plus the previous tile's overlap rows
    vdup(sb, Geometry.flat(held * width * 16), bufs["dx"], 0.0)
    if carry is not None:
        vcopy(sb, Geometry.flat(carry[1] * width * 16), bufs["dx"], carry[0])
    copy_in(sb, bufs["dy"], gm(dy, (s * ho + o0) * wo * BLOCK_BYTES), count * wo * BLOCK_BYTES)
    if is_max:
        _load_window(sb, bufs["x"], x, s, o0, o1, (h, w), (kh, sh, dh, pt), (width, pl),
                     float("-inf"))
        _taps(sb, bufs["m"], bufs["x"], count, wo, width, (kh, kw), (sh, sw), (dh, dw), True)
        vdup(sb, small, bufs["r"], 1.0)
    else:
        assert recip_buf is not None
        vbin(sb, small, VBinOp.MUL, bufs["dy"], bufs["dy"], recip_buf + o0 * wo * BLOCK_BYTES)
    for i in range(kh):
        for j in range(kw):
            offset = (i * dh * width + j * dw) * BLOCK_BYTES
            view = Opnd(bufs["dx"] + offset, row_stride=sh * width, blk_stride=sw)
            if is_max:
                xt = Opnd(bufs["x"] + offset, row_stride=sh * width, blk_stride=sw)
                vbin(sb, small, VBinOp.SUB, bufs["e"], xt, bufs["m"])
                indicator(sb, small, Opnd(bufs["e"]), equal=True)
                vbin(sb, small, VBinOp.MUL, bufs["e"], bufs["e"], bufs["r"])
                vbin(sb, small, VBinOp.SUB, bufs["r"], bufs["r"], bufs["e"])
                vbin(sb, small, VBinOp.MUL, bufs["e"], bufs["e"], bufs["dy"])
                vbin(sb, small, VBinOp.ADD, view, view, bufs["e"])
            else:
                vbin(sb, small, VBinOp.ADD, view, view, bufs["dy"])
    done = held if last else count * sh
    _store_rows(sb, bufs["dx"], dx, s, first_row, done, geom)
    overlap = rows_in - count * sh
    if last or overlap <= 0:
        return None
    return bufs["dx"] + count * sh * width * BLOCK_BYTES, overlap


def _store_rows(sb: StreamBuilder, buf: Addr, dx, s: int, first_row: int, rows: int,
                geom: tuple[int, ...]) -> None:
    """Store dX rows [first_row, first_row + rows) (padded coordinates) that are real input
    rows, real columns only."""
    h, w, ho, wo, width, pt, pl = geom
    lo, hi = max(first_row, pt), min(first_row + rows, pt + h)
    if hi <= lo:
        return
    copy_rows(sb, gm(dx, (s * h + lo - pt) * w * BLOCK_BYTES),
              buf + ((lo - first_row) * width + pl) * BLOCK_BYTES, hi - lo, w, width, w)
