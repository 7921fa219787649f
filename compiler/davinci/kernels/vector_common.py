"""Scaffolding shared by the vector kernels: operand placement, GM <-> UB copies, work split
over cores, and double-buffered UB allocation.

Padding rule of every vector kernel (documented once, here): the padded lanes of an ``ndp``
row (last axis padded to 16 fp16) and the padded channels of an ``nc1hwc0`` feature map are
written as zeros whenever the kernel's math would put something else there (exp(0) = 1, 1/0 =
inf, ...), so a consumer that multiplies padding by zero weights (the Cube's K padding) stays
finite. Reductions never trust input padding: they overwrite it with the neutral element of
the reduction (-inf for max, 0 for sums) in UB, or mask it off, before reducing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compiler.davinci.builder import KernelBuilder, StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.executable import TensorPlacement
from isa.davinci import Addr, Copy, DType, Space
from isa.davinci.types import BLOCK_BYTES

MAX_BURST_BLOCKS = 65535  # lenBurst < 65536 blocks [AKG-PARAMS] facts §3.3
MAX_BURSTS = 4095  # nBurst < 4096 [AKG-PARAMS] facts §3.3
MAX_GAP = 65535

DTYPES = {"float16": DType.FP16, "int32": DType.INT32, "float32": DType.FP32}


def dtype_of(placement: TensorPlacement) -> DType:
    """The ISA element type of a placed value."""
    return DTYPES[placement.dtype]


def place_input(ctx: LoweringContext, value: str, layout: str | None = None) -> TensorPlacement:
    """The GM placement of an input value; constants are written into the executable's image
    (in the value's default layout unless ``layout`` is given)."""
    if ctx.is_constant(value) and value not in ctx.placements:
        tensor_type = ctx.type_of(value)
        array = ctx.constant(value)
        dtype = "float16" if tensor_type.is_float else "int32"
        return ctx.place_constant(value, array.reshape(tensor_type.shape) if tensor_type.shape
                                  else array.reshape(1), layout or ctx.layout_of(value),
                                  dtype=dtype)
    return ctx.place(value) if layout is None else ctx.place(value, layout)


def place_image(ctx: LoweringContext, key: str, array: np.ndarray, layout: str,
                dtype: str = "float16") -> TensorPlacement:
    """A compiler-made constant image (an expanded bias, a table) placed once under ``key``."""
    return ctx.place_constant(key, np.asarray(array), layout, key=key, dtype=dtype)


def blocks(nbytes: int) -> int:
    return -(-nbytes // BLOCK_BYTES)


def copy_in(sb: StreamBuilder, dst: Addr, src: Addr, nbytes: int) -> None:
    """GM -> UB (or UB -> GM, by the addresses' spaces) of ``nbytes`` contiguous bytes,
    rounded up to whole 32 B blocks, in as few bursts as the burst limits allow."""
    total = blocks(nbytes)
    done = 0
    while done < total:
        length = min(MAX_BURST_BLOCKS, total - done)
        sb.emit(Copy(dst + done * BLOCK_BYTES, src + done * BLOCK_BYTES, 1, length))
        done += length


copy_out = copy_in


def copy_rows(sb: StreamBuilder, dst: Addr, src: Addr, rows: int, row_blocks: int,
              src_pitch_blocks: int, dst_pitch_blocks: int) -> None:
    """``rows`` bursts of ``row_blocks`` blocks with the given pitches (in blocks)."""
    if rows <= 0 or row_blocks <= 0:
        return
    if src_pitch_blocks == row_blocks and dst_pitch_blocks == row_blocks:
        copy_in(sb, dst, src, rows * row_blocks * BLOCK_BYTES)
        return
    src_gap, dst_gap = src_pitch_blocks - row_blocks, dst_pitch_blocks - row_blocks
    if row_blocks > MAX_BURST_BLOCKS or not (0 <= src_gap <= MAX_GAP and 0 <= dst_gap <= MAX_GAP):
        for r in range(rows):
            copy_in(sb, dst + r * dst_pitch_blocks * BLOCK_BYTES,
                    src + r * src_pitch_blocks * BLOCK_BYTES, row_blocks * BLOCK_BYTES)
        return
    for first in range(0, rows, MAX_BURSTS):
        count = min(MAX_BURSTS, rows - first)
        sb.emit(Copy(dst + first * dst_pitch_blocks * BLOCK_BYTES,
                     src + first * src_pitch_blocks * BLOCK_BYTES, count, row_blocks,
                     src_gap, dst_gap))


def gm(placement: TensorPlacement, byte_offset: int = 0) -> Addr:
    return Addr(Space.GM, placement.offset + byte_offset)


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """``total`` units as up to ``parts`` contiguous (start, stop) ranges of near-equal size."""
    parts = max(1, min(parts, total))
    base, extra = divmod(total, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + base + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


@dataclass(frozen=True)
class TilePlan:
    """How a core walks its units: ``unit_bytes`` per unit, ``tile_units`` per tile."""

    tile_units: int
    unit_bytes: int

    def tiles(self, start: int, stop: int) -> list[tuple[int, int]]:
        return [(u, min(stop, u + self.tile_units)) for u in range(start, stop, self.tile_units)]


def plan_tiles(ub_free: int, total_units: int, unit_bytes: int, buffers_per_set: float,
               cores: int, align_units: int = 1) -> TilePlan:
    """Largest tile (in units) whose ``buffers_per_set`` buffers, twice (double buffering),
    fit ``ub_free`` bytes; no larger than one core's share of the work."""
    per_unit = max(1.0, 2 * buffers_per_set * unit_bytes)
    fit = max(1, int(ub_free // per_unit))
    share = max(1, -(-total_units // max(1, cores)))
    units = min(fit, share)
    if units > align_units:
        units -= units % align_units
    return TilePlan(max(1, units), unit_bytes)


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 1


def ub_bytes(nbytes: int) -> int:
    """``nbytes`` rounded up to whole 256 B repeats (vector instructions touch whole repeats
    unless masked; rounding keeps every buffer start 256 B aligned as well)."""
    return -(-nbytes // 256) * 256


def vector_units(ctx: LoweringContext) -> int:
    """Vector units the work can be split over: one per core on coupled chips, every AIV of
    every core on separated ones (facts §1: 910B pairs each AIC with two AIVs)."""
    if ctx.target.organisation == "separated":
        return ctx.target.cores * int(getattr(ctx.target, "vector_cores_per_core", 2))
    return ctx.target.cores


def vector_builder(ctx: LoweringContext, name: str, parts: int
                   ) -> tuple[KernelBuilder, list[StreamBuilder]]:
    """A kernel builder with ``parts`` vector streams: cores on coupled chips, (core, AIV)
    pairs on separated chips (aiv0 and aiv1 of core 0 first)."""
    if ctx.target.organisation != "separated":
        builder = ctx.builder(name, parts)
        return builder, [builder.stream(i) for i in range(parts)]
    per = int(getattr(ctx.target, "vector_cores_per_core", 2))
    units = tuple(f"aiv{i}" for i in range(per))
    builder = KernelBuilder(name, ctx.target, -(-parts // per), units, ctx.gm_territory)
    return builder, [builder.stream(i // per, units[i % per]) for i in range(parts)]


def place_output(ctx: LoweringContext, value: str, inputs: Sequence[str],
                 dtype: str | None = None) -> TensorPlacement:
    """The output of an element-wise kernel: NC1HWC0 when a same-rank tensor input already
    lives there (layout assignment does not follow every op, and lanes must line up), else its
    assigned layout."""
    rank = len(ctx.type_of(value).shape)
    if value not in ctx.placements:
        for name in inputs:
            stored = ctx.placements.get(name)
            if stored is not None and stored.layout == "nc1hwc0" and len(stored.shape) == rank:
                return ctx.place(value, "nc1hwc0", dtype)
    return ctx.place(value, None, dtype)
