"""Element-granular data movement: transposes that move the last axis, and NC1HWC0 -> row-major
reshapes (a flatten after a convolution).

The vector ISA moves 32 B blocks (DMA) or computes lane-for-lane; nothing moves an element to
another lane. The one instruction that does is a reduction: ``vcmax`` with a one-lane mask
copies lane t of its repeat's source to element ``dst + r * dst_rep_stride`` (the destination
stride counts elements). So a *run* -- output elements d..d+n-1 taking lane t of n consecutive
source blocks -- is one ``vcmax`` of n repeats (7 cycles each: these kernels are bound by it,
facts §1.2 vcmax 9 + 7 r). Source blocks are first staged in UB (strided burst copies), runs
are written, padding is zeroed and whole tiles are stored.

A destination must start on a 32 B boundary, so a run starting at an unaligned element starts
at the block boundary below it instead, its extra leading repeats reading the blocks before its
source (a guard region keeps them inside UB); runs are emitted in descending destination order
so each run's leading garbage is overwritten by the run that owns those elements (the vector
pipe executes in order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.vector_common import (
    blocks,
    copy_out,
    copy_rows,
    gm,
    numel,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_ops import (
    Geometry,
    fill_row_lanes,
    full_mask,
    lane_mask,
    set_mask,
    vdup,
)
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node
from isa.davinci import Addr, DType, Space, VReduce, VReduceOp
from isa.davinci.types import BLOCK_BYTES

FP16 = DType.FP16
GUARD_BLOCKS = 16  # staged blocks a run may read before its source (<= 15 leading lanes)
CHUNK = 240  # repeats per vcmax: <= 255 and a multiple of 16 keeps later chunks aligned


@dataclass(frozen=True)
class Load:
    """Stage ``count`` bursts of ``length`` blocks from GM into UB block ``ub_block``."""

    ub_block: int
    gm_offset: int
    count: int
    length: int
    src_pitch: int  # blocks between bursts in GM


@dataclass(frozen=True)
class Run:
    """Output elements dst, dst + step, ... (``length`` of them) of the tile <- lane ``lane``
    of staged blocks src..src+length-1 (step 16 writes one lane of consecutive NC1HWC0
    blocks)."""

    dst: int
    src: int
    lane: int
    length: int
    step: int = 1


@dataclass(frozen=True)
class Tile:
    """One tile: staging loads, runs, and the output positions [pos0, pos1) it stores."""

    loads: tuple[Load, ...]
    runs: tuple[Run, ...]
    pos0: int
    pos1: int


def emit_tiles(ctx: LoweringContext, node: Node, out: TensorPlacement, source: TensorPlacement,
               tiles: list[Tile], stage_blocks: int, op: str) -> None:
    """Emit the tiles over the cores (contiguous shares, double-buffered)."""
    out_shape = out.shape or (1,)
    length = out_shape[-1]
    lp = blocks(length * 2) * 16
    out_elems = max(t.pos1 - t.pos0 for t in tiles)
    ranges = split(len(tiles), vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    for core, (t0, t1) in enumerate(ranges):
        sb = streams[core]
        sets = []
        for _ in range(2):
            stage = sb.alloc(Space.UB, (GUARD_BLOCKS + stage_blocks) * BLOCK_BYTES + 256,
                             "staged blocks")
            sets.append((stage + GUARD_BLOCKS * BLOCK_BYTES,
                         sb.alloc(Space.UB, ub_bytes(out_elems * 2), "output tile")))
        for index in range(t0, t1):
            tile = tiles[index]
            stage, buf = sets[index % 2]
            for load in tile.loads:
                copy_rows(sb, stage + load.ub_block * BLOCK_BYTES, gm(source, load.gm_offset),
                          load.count, load.length, load.src_pitch, load.length)
            count = tile.pos1 - tile.pos0
            vdup(sb, Geometry.flat(count), buf, 0.0)
            _runs(sb, buf, stage, tile.runs)
            if length % 16 and out.layout == "ndp":
                _zero_pads(sb, buf, tile.pos0, tile.pos1, length, lp)
            copy_out(sb, gm(out, tile.pos0 * 2), buf, count * 2)
    moved = numel(out.shape) * 2
    ctx.launch(builder, node, op=op, flops=0, min_bytes=2 * moved,
               inputs=(node.inputs[0],), outputs=(node.outputs[0],),
               tiling=f"{len(ranges)} cores, {len(tiles)} tiles; element moves by one-lane "
                      "vcmax runs (no lane shuffle in the ISA)")


def _runs(sb: StreamBuilder, buf: Addr, stage: Addr, runs: tuple[Run, ...]) -> None:
    mask = None
    for run in sorted(runs, key=lambda r: -r.dst):
        if mask != run.lane:
            hi_a, lo_a = lane_mask(run.lane + 1, 128)
            hi_b, lo_b = lane_mask(run.lane, 128)
            set_mask(sb, (hi_a & ~hi_b, lo_a & ~lo_b))
            mask = run.lane
        if run.step != 1:  # strided destinations are element-aligned (reductions allow it)
            for first in range(0, run.length, 255):
                reps = min(255, run.length - first)
                sb.emit(VReduce(VReduceOp.MAX, FP16, buf + (run.dst + first * run.step) * 2,
                                stage + (run.src + first) * BLOCK_BYTES, reps, 1, 1, run.step))
            continue
        extra = run.dst % 16
        dst, src, total = run.dst - extra, run.src - extra, run.length + extra
        if src < -GUARD_BLOCKS:
            raise CompileError("relayout: a run reads before its guard region")
        if mask != run.lane:
            hi_a, lo_a = lane_mask(run.lane + 1, 128)
            hi_b, lo_b = lane_mask(run.lane, 128)
            set_mask(sb, (hi_a & ~hi_b, lo_a & ~lo_b))
            mask = run.lane
        for first in range(0, total, CHUNK):
            reps = min(CHUNK, total - first)
            sb.emit(VReduce(VReduceOp.MAX, FP16, buf + (dst + first) * 2,
                            stage + (src + first) * BLOCK_BYTES, reps, 1, 1, 1))
    if mask is not None:
        full_mask(sb)


def _zero_pads(sb: StreamBuilder, buf: Addr, pos0: int, pos1: int, length: int,
               lp: int) -> None:
    """Zero the padded lanes of the ndp rows inside positions [pos0, pos1)."""
    first_row, last_row = pos0 // lp, (pos1 - 1) // lp
    rows = [r for r in range(first_row, last_row + 1)
            if pos0 <= r * lp + length and r * lp + lp <= pos1]
    if not rows:
        return
    start = rows[0] * lp + (length // 16) * 16 - pos0
    fill_row_lanes(sb, buf + start * 2, len(rows), lp // 16, length % 16, 16, 0.0)


# --- tile planners ------------------------------------------------------------------------

def transpose_tiles(src: TensorPlacement, out: TensorPlacement, perm: tuple[int, ...],
                    budget_blocks: int) -> tuple[list[Tile], int]:
    """Tiles of a transpose whose last output axis is input axis a = perm[-1] < last: every
    output row takes one lane of the input blocks along axis a; 16 output rows that differ
    only in that lane share one staged stripe."""
    shape = src.shape
    rank = len(shape)
    in_lp = blocks(shape[-1] * 2) * 16
    strides = [0] * rank  # element strides of the stored (ndp) input
    strides[-1] = 1
    step = in_lp
    for axis in range(rank - 2, -1, -1):
        strides[axis] = step
        step *= shape[axis]
    axis_a = perm[-1]
    extent = shape[axis_a]
    out_shape = out.shape
    out_lp = blocks(out_shape[-1] * 2) * 16
    if extent * 2 > budget_blocks * BLOCK_BYTES or extent > 4095:
        raise CompileError(f"transpose: a stripe of {extent} blocks does not fit UB")
    j_last = perm.index(rank - 1)  # output axis holding the input's last axis
    tiles: list[Tile] = []
    out_rows = np.arange(numel(out_shape[:-1])).reshape(out_shape[:-1])
    # group output rows: same indices except the input-last-axis index within one 16-block
    for index in np.ndindex(*out_shape[:-1]):
        if index[j_last] % 16:
            continue
        group = [index[:j_last] + (index[j_last] + t,) + index[j_last + 1:]
                 for t in range(min(16, out_shape[j_last] - index[j_last]))]
        rows = [int(out_rows[g]) for g in group]
        base = sum(index[k] * strides[perm[k]] for k in range(rank - 1))
        load = Load(0, base * 2, extent, 1, strides[axis_a] // 16)
        runs = [Run((row - rows[0]) * out_lp, 0, t, extent) for t, row in enumerate(rows)]
        if rows != list(range(rows[0], rows[0] + len(rows))):
            for t, row in enumerate(rows):  # not consecutive: one tile per row
                tiles.append(Tile((load,), (Run(0, 0, t, extent),), row * out_lp,
                                  (row + 1) * out_lp))
            continue
        tiles.append(Tile((load,), tuple(runs), rows[0] * out_lp, (rows[-1] + 1) * out_lp))
    return tiles, extent


def unfold_tiles(src: TensorPlacement, out: TensorPlacement, budget_blocks: int
                 ) -> tuple[list[Tile], int]:
    """Tiles of an NC1HWC0 (N, C, H, W) -> row-major reshape (logical order kept): per
    sample, channel ranges whose output positions start and end on 32 B boundaries."""
    n, c, h, w = src.shape
    hw, c1 = h * w, -(-c // 16)
    out_shape = out.shape or (1,)
    length = out_shape[-1]
    lp = blocks(length * 2) * 16
    per_sample = c * hw

    def pos(flat: int) -> int:
        return (flat // length) * lp + flat % length

    def aligned(flat: int) -> bool:
        return (flat % length) % 16 == 0

    blocks_per_group = hw  # staged blocks per 16 channels
    groups_fit = max(1, (budget_blocks - 16) // blocks_per_group)
    tiles: list[Tile] = []
    for sample in range(n):
        c0 = 0
        while c0 < c:
            c_end = min(c, c0 + 16 * groups_fit)
            while c_end < c and not aligned(sample * per_sample + c_end * hw):
                c_end -= 1  # back off to an aligned boundary
            if c_end <= c0:
                raise CompileError("relayout: no aligned channel split fits UB")
            g0, g1 = c0 // 16, -(-c_end // 16)
            load = Load(0, ((sample * c1 + g0) * hw) * BLOCK_BYTES, 1, (g1 - g0) * hw, 0)
            f0 = sample * per_sample + c0 * hw
            p0 = pos(f0)
            runs = []
            for ch in range(c0, c_end):
                f = sample * per_sample + ch * hw
                p = 0
                while p < hw:  # split where the run crosses an output row
                    row_left = length - (f + p) % length
                    take = min(hw - p, row_left)
                    runs.append(Run(pos(f + p) - p0, (ch // 16 - g0) * hw + p, ch % 16, take))
                    p += take
            if not aligned(f0):
                raise CompileError(f"relayout: sample {sample} does not start on a 32 B "
                                   "boundary of the output rows")
            tiles.append(Tile((load,), tuple(runs), p0, pos(sample * per_sample + c_end * hw)))
            c0 = c_end
    return tiles, groups_fit * blocks_per_group


def refold_tiles(src: TensorPlacement, out: TensorPlacement, budget_blocks: int
                 ) -> tuple[list[Tile], int]:
    """Tiles of an NC1HWC0 -> NC1HWC0 reshape (logical order kept, e.g. the (N, C, H, W) ->
    (N, 1, C, H W) view an LRN's channel window pools over): tiles of output blocks; every
    output lane that holds a real channel is written by runs of step 16 from the staged
    input blocks of the same elements."""
    n_i, c_i, h_i, w_i = src.shape
    n_o, c_o, h_o, w_o = out.shape
    hw_i, hw_o = h_i * w_i, h_o * w_o
    c1_i, c1_o = -(-c_i // 16), -(-c_o // 16)
    total_blocks = n_o * c1_o * hw_o
    tile_blocks = max(16, budget_blocks // 17)  # staging: up to 16 lanes' ranges per tile
    tiles: list[Tile] = []
    stage_max = 0
    for b0 in range(0, total_blocks, tile_blocks):
        b1 = min(total_blocks, b0 + tile_blocks)
        staged: dict[tuple[int, int], int] = {}
        loads: list[Load] = []
        runs: list[Run] = []
        b = b0
        while b < b1:
            slice_index, p0 = divmod(b, hw_o)
            p1 = min(hw_o, p0 + (b1 - b))
            sample, k = divmod(slice_index, c1_o)
            for lane in range(16):
                channel = k * 16 + lane
                if channel >= c_o:
                    break
                flat = (sample * c_o + channel) * hw_o + p0
                done = 0
                while done < p1 - p0:
                    s_n, rest = divmod(flat + done, c_i * hw_i)
                    s_c, s_p = divmod(rest, hw_i)
                    count = min(p1 - p0 - done, hw_i - s_p)
                    key = ((s_n * c1_i + s_c // 16) * hw_i + s_p, count)
                    if key not in staged:
                        staged[key] = sum(length for _, length in staged)
                        loads.append(Load(staged[key], key[0] * BLOCK_BYTES, 1, count, count))
                    dst = (b - b0 + done) * 16 + lane
                    runs.append(Run(dst, staged[key], s_c % 16, count, 16))
                    done += count
            b += p1 - p0
        stage_max = max(stage_max, sum(length for _, length in staged))
        tiles.append(Tile(tuple(loads), tuple(runs), b0 * 16, b1 * 16))
    return tiles, stage_max
