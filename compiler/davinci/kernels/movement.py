"""Data-movement kernels on row-major (ndp) values: transpose / permute (last axis kept),
slice, split, concat, constant pad, gather with constant indices, expand, and reshapes.

Every output row is assembled in UB from *pieces*: a piece copies, for each output row it
covers, one input row (any input, any row: a row map) starting at any element of that row,
into a 32 B-aligned column block of the output row. GM reads may start at any byte (facts
§2.2: GM has no alignment rule), which is how slices and pads shift the last axis; UB
addresses stay block-aligned. Lanes a piece reads past its columns, and padding columns, are
then overwritten with the pad value (vector_dup under a lane mask), padded lanes with zeros
(padding rule in `vector_common`). Runs of output rows whose input rows form an arithmetic
progression become one burst copy with a source gap, so a (0, 2, 1, 3) attention transpose is
one copy per (batch, head) rather than one per row.

Transposes that move the last axis go through relayout.py (element moves); reshapes are in
reshape.py (views, or pieces assembled by this module's kernel).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.davinci.builder import StreamBuilder
from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.elementwise import ChainKernel, emit_elementwise
from compiler.davinci.kernels.elementwise_plan import ChainOp, classify
from compiler.davinci.kernels.relayout import emit_tiles, transpose_tiles
from compiler.davinci.kernels.vector_common import (
    blocks,
    copy_out,
    copy_rows,
    gm,
    numel,
    place_input,
    place_output,
    split,
    ub_bytes,
    vector_builder,
    vector_units,
)
from compiler.davinci.kernels.vector_ops import (
    MAX_REPEAT,
    MAX_STRIDE,
    Geometry,
    fill_row_lanes,
    full_mask,
    lane_mask,
    set_mask,
    vbin,
    vdup,
)
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from framework import Node, OpCode
from framework.shape_utils import norm_axis
from framework.shapes import slice_ranges
from isa.davinci import Addr, DType, Space, VBinary, VBinOp
from isa.davinci.types import BLOCK_BYTES


@dataclass(frozen=True)
class Piece:
    """Input rows copied into a column range of the output rows (see the module docstring)."""

    placement: TensorPlacement
    row_map: np.ndarray  # per output row: the input row, or -1 (not covered by this piece)
    col_offset: int  # first input element of the row that lands at the piece's first column
    dst_col: int  # first output column (a multiple of 16)
    columns: int  # output columns the piece provides


@dataclass
class Assembly:
    """How to build every output row of one kernel."""

    out: TensorPlacement
    pieces: list[Piece]
    fill_value: float = 0.0
    needs_fill: bool = False  # some output element comes from no piece
    fixes: list[tuple[int, int, float]] = field(default_factory=list)  # (col0, col1, value)


def _rows_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    shape = shape or (1,)
    return numel(shape[:-1]), shape[-1]


def _ndp(ctx: LoweringContext, value: str, where: str, output: bool = False) -> TensorPlacement:
    placement = ctx.place(value) if output else place_input(ctx, value)
    if placement.layout != "ndp":
        raise CompileError(f"{where}: {value} is stored {placement.layout}; data movement is "
                           "lowered for row-major (ndp) values only")
    return placement


def block_view(placement: TensorPlacement) -> TensorPlacement:
    """An NC1HWC0 map (N, C, H, W) seen as the row-major array (N, C1, H, W * 16) of its
    stored bytes: moving whole channel blocks, rows or pixels of the map is moving rows or
    whole-block columns of the view (no padding: W * 16 fills whole blocks)."""
    n, c, h, w = placement.shape
    return TensorPlacement(placement.name, placement.offset, placement.nbytes,
                           (n, -(-c // 16), h, w * 16), placement.dtype, "ndp")


def _fmap_or_ndp(ctx: LoweringContext, value: str, where: str, output: bool = False,
                 like: tuple[str, ...] = ()) -> TensorPlacement:
    """The value's placement as the movement kernels address it (NC1HWC0 as `block_view`)."""
    placement = place_output(ctx, value, like) if output else place_input(ctx, value)
    if placement.layout == "nc1hwc0":
        return block_view(placement)
    if placement.layout != "ndp":
        raise CompileError(f"{where}: {value} is stored {placement.layout}; data movement is "
                           "lowered for row-major and NC1HWC0 values")
    return placement


def _view_index(shape: tuple[int, ...], index: tuple[slice, ...], where: str
                ) -> tuple[slice, ...]:
    """A slice of an NC1HWC0 map (N, C, H, W) as a slice of its `block_view`: channels in
    whole 16-channel blocks, columns as 16-element groups."""
    n_s, c_s, h_s, w_s = index
    c0, c1, cstep = c_s.indices(shape[1])
    w0, w1, wstep = w_s.indices(shape[3])
    if cstep != 1 or wstep != 1 or c0 % 16 or (c1 % 16 and c1 != shape[1]):
        raise CompileError(f"{where}: an NC1HWC0 slice must keep channels in whole blocks of "
                           "16 and step 1 along channels and columns")
    return (n_s, slice(c0 // 16, -(-c1 // 16)), h_s, slice(w0 * 16, w1 * 16))


def emit_assembly(ctx: LoweringContext, node: Node, asm: Assembly, op: str) -> None:
    rows, length = _rows_shape(asm.out.shape)
    row_blocks = blocks(length * 2)
    row_bytes = row_blocks * BLOCK_BYTES
    unaligned = any(p.dst_col % 16 for p in asm.pieces)
    per_row = row_bytes * (2 if unaligned else 1)
    budget = ctx.target.ub_bytes - 4096
    if 2 * per_row > budget:
        raise CompileError(f"{node.name}: one output row of {length} elements does not fit UB")
    tile = max(1, min(budget // (2 * per_row), -(-rows // vector_units(ctx))))
    ranges = split(rows, vector_units(ctx))
    builder, streams = vector_builder(ctx, node.name, len(ranges))
    for core, (r0, r1) in enumerate(ranges):
        sb = streams[core]
        bufs = [sb.alloc(Space.UB, ub_bytes(tile * row_bytes), "rows") for _ in range(2)]
        temps = [sb.alloc(Space.UB, ub_bytes(tile * row_bytes), "shifted rows")
                 for _ in range(2)] if unaligned else [bufs[0], bufs[1]]
        for index, t0 in enumerate(range(r0, r1, tile)):
            t1 = min(r1, t0 + tile)
            _tile(sb, asm, bufs[index % 2], temps[index % 2], t0, t1, row_blocks, length)
            copy_out(sb, gm(asm.out, t0 * row_bytes), bufs[index % 2], (t1 - t0) * row_bytes)
    moved = numel(asm.out.shape) * 2
    ctx.launch(builder, node, op=op, flops=0, min_bytes=2 * moved,
               inputs=tuple(v for v in node.inputs if not ctx.is_constant(v)),
               outputs=(asm.out.name,),
               tiling=f"{len(ranges)} cores, {tile} rows per tile, {len(asm.pieces)} pieces")


def _tile(sb: StreamBuilder, asm: Assembly, buf: Addr, temp: Addr, t0: int, t1: int,
          row_blocks: int, length: int) -> None:
    rows = t1 - t0
    if asm.needs_fill:
        vdup(sb, Geometry.flat(rows * row_blocks * 16), buf, asm.fill_value)
    # block-aligned pieces land directly; the others are read shifted into ``temp`` (their
    # first lane at its lane within the block) and merged under a lane mask, after, so no
    # whole-block copy can overwrite a merged lane
    ordered = sorted(asm.pieces, key=lambda p: p.dst_col % 16 != 0)
    for piece in ordered:
        shift = piece.dst_col % 16
        src_blocks = blocks(piece.placement.shape[-1] * 2) if piece.placement.shape else 1
        width = blocks((piece.columns + shift) * 2)
        target = temp if shift else buf
        for first, base, count, step in row_runs(piece.row_map, t0, t1):
            offset = base * src_blocks * BLOCK_BYTES + (piece.col_offset - shift) * 2
            if piece.placement.offset + offset < 0:
                raise CompileError(f"{asm.out.name}: a shifted read would start before GM")
            row_at = (first - t0) * row_blocks * BLOCK_BYTES
            copy_rows(sb, target + row_at + (piece.dst_col // 16) * BLOCK_BYTES,
                      gm(piece.placement, offset), count, width, step * src_blocks, row_blocks)
            if shift:  # only the rows this run covers
                merge_cols(sb, buf + row_at, temp + row_at, count, row_blocks, piece.dst_col,
                           piece.dst_col + piece.columns)
    for col0, col1, value in asm.fixes:
        fill_cols(sb, buf, rows, row_blocks, col0, col1, value)
    if length % 16:
        fill_cols(sb, buf, rows, row_blocks, length, row_blocks * 16, 0.0)


def merge_cols(sb: StreamBuilder, dst: Addr, src: Addr, rows: int, row_blocks: int, col0: int,
               col1: int) -> None:
    """Columns col0..col1-1 of every row: dst <- src, bit-exact (vor on int16 lanes), the
    partial first and last blocks under lane masks."""
    first_full, last_full = -(-col0 // 16), col1 // 16

    def masked(block: int, lo: int, hi: int) -> None:
        hi_a, lo_a = lane_mask(hi)
        hi_b, lo_b = lane_mask(lo)
        set_mask(sb, (hi_a & ~hi_b, lo_a & ~lo_b))
        step = row_blocks if row_blocks <= MAX_STRIDE else 0
        for r0 in range(0, rows, MAX_REPEAT if step else 1):
            count = min(MAX_REPEAT, rows - r0) if step else 1
            at = (r0 * row_blocks + block) * BLOCK_BYTES
            sb.emit(VBinary(VBinOp.OR, DType.INT16, dst + at, src + at, src + at, count, 1, 1, 1,
                            step, step, step))
        full_mask(sb)

    if first_full > last_full:
        masked(col0 // 16, col0 % 16, col1 - (col0 // 16) * 16)
        return
    if col0 % 16:
        masked(col0 // 16, col0 % 16, 16)
    if last_full > first_full:
        geo = Geometry(rows, (last_full - first_full) * 16, row_blocks, DType.INT16)
        middle = first_full * BLOCK_BYTES
        vbin(sb, geo, VBinOp.OR, dst + middle, src + middle, src + middle)
    if col1 % 16:
        masked(last_full, 0, col1 % 16)


def row_runs(row_map: np.ndarray, t0: int, t1: int) -> list[tuple[int, int, int, int]]:
    """(first output row, first input row, count, input step >= 1) over covered rows."""
    runs = []
    r = t0
    while r < t1:
        base = int(row_map[r])
        if base < 0:
            r += 1
            continue
        step = int(row_map[r + 1]) - base if r + 1 < t1 and row_map[r + 1] >= 0 else 1
        step = max(step, 1)
        count = 1
        while r + count < t1 and int(row_map[r + count]) == base + count * step:
            count += 1
        runs.append((r, base, count, step))
        r += count
    return runs


def fill_cols(sb: StreamBuilder, buf: Addr, rows: int, row_blocks: int, col0: int, col1: int,
              value: float) -> None:
    """Columns col0..col1-1 of every row of the tile <- value."""
    if col0 >= col1:
        return
    first_full, last_full = -(-col0 // 16), col1 // 16
    if first_full > last_full:  # inside one block
        fill_row_lanes(sb, buf + (col0 // 16) * BLOCK_BYTES, rows, row_blocks, col0 % 16,
                       col1 - (col0 // 16) * 16, value)
        return
    if col0 % 16:
        fill_row_lanes(sb, buf + (col0 // 16) * BLOCK_BYTES, rows, row_blocks, col0 % 16, 16,
                       value)
    if last_full > first_full:
        geo = Geometry(rows, (last_full - first_full) * 16, row_blocks)
        vdup(sb, geo, buf + first_full * BLOCK_BYTES, value)
    if col1 % 16:
        fill_row_lanes(sb, buf + last_full * BLOCK_BYTES, rows, row_blocks, 0, col1 % 16, value)


def _row_index(shape: tuple[int, ...]) -> np.ndarray:
    """Input row numbers arranged by the leading axes of ``shape``."""
    shape = shape or (1,)
    return np.arange(numel(shape[:-1])).reshape(shape[:-1])


# --- rules --------------------------------------------------------------------------------------

@rule(OpCode.TRANSPOSE)
def lower_transpose(ctx: LoweringContext, node: Node) -> None:
    """Permutations that keep the last axis move whole rows."""
    x, y = node.inputs[0], node.outputs[0]
    perm = node.attrs.perm
    src, out = _ndp(ctx, x, node.name), _ndp(ctx, y, node.name, True)
    if perm and perm[-1] != len(perm) - 1:
        # the last axis moves: element moves by one-lane reductions (relayout.py)
        budget = (ctx.target.ub_bytes - 8192) // 4 // BLOCK_BYTES
        tiles, stage = transpose_tiles(src, out, tuple(perm), budget)
        emit_tiles(ctx, node, out, src, tiles, stage, "transpose")
        return
    row_map = _row_index(src.shape).transpose(perm[:-1]).reshape(-1) if perm else np.zeros(1)
    length = (out.shape or (1,))[-1]
    emit_assembly(ctx, node, Assembly(out, [Piece(src, row_map, 0, 0, length)]), "transpose")


def _slice_piece(src: TensorPlacement, out_shape: tuple[int, ...], index: tuple[slice, ...],
                 where: str) -> Piece:
    last = index[-1].indices(src.shape[-1])
    if last[2] != 1:
        raise CompileError(f"{where}: a step of {last[2]} on the last axis needs lane gathers, "
                           "which the vector ISA lacks")
    rows = _row_index(src.shape)[index[:-1]].reshape(-1)
    return Piece(src, rows, last[0], 0, out_shape[-1])


@rule(OpCode.SLICE)
def lower_slice(ctx: LoweringContext, node: Node) -> None:
    """Rows selected by the leading axes' slices, the last axis shifted by its start."""
    x = node.inputs[0]
    src = _fmap_or_ndp(ctx, x, node.name)
    out = _fmap_or_ndp(ctx, node.outputs[0], node.name, True, (x,))
    index = slice_ranges(ctx.type_of(x).shape, node.attrs)
    if src.shape != tuple(ctx.type_of(x).shape):
        index = _view_index(ctx.type_of(x).shape, index, node.name)
    piece = _slice_piece(src, out.shape, index, node.name)
    emit_assembly(ctx, node, Assembly(out, [piece]), "slice")


@rule(OpCode.SPLIT)
def lower_split(ctx: LoweringContext, node: Node) -> None:
    """One slice kernel per output."""
    x = node.inputs[0]
    shape = ctx.type_of(x).shape
    src = _fmap_or_ndp(ctx, x, node.name)
    axis = norm_axis(node.attrs.axis, len(shape))
    start = 0
    for value, size in zip(node.outputs, node.attrs.sizes, strict=True):
        out = _fmap_or_ndp(ctx, value, node.name, True, (x,))
        index = tuple(slice(start, start + size) if a == axis else slice(None)
                      for a in range(len(shape)))
        if src.shape != tuple(shape):
            index = _view_index(shape, index, node.name)
        emit_assembly(ctx, node, Assembly(out, [_slice_piece(src, out.shape, index, node.name)]),
                      "split")
        start += size


@rule(OpCode.CONCAT)
def lower_concat(ctx: LoweringContext, node: Node) -> None:
    """Each input becomes a piece: its rows (leading-axis concat) or its columns (last-axis
    concat; a piece starting inside a block is merged under a lane mask)."""
    logical = ctx.type_of(node.outputs[0]).shape
    out = _fmap_or_ndp(ctx, node.outputs[0], node.name, True, tuple(node.inputs))
    rank = len(out.shape)
    axis = norm_axis(node.attrs.axis, rank)
    fmap = out.shape != tuple(logical)
    out_rows = _row_index(out.shape)
    pieces, offset = [], 0
    for value in node.inputs:
        src = _fmap_or_ndp(ctx, value, node.name)
        if fmap and src.shape == tuple(ctx.type_of(value).shape):
            raise CompileError(f"{node.name}: concat of an NC1HWC0 map with a row-major {value}")
        size = src.shape[axis]
        if fmap and axis == 1 and ctx.type_of(value).shape[1] % 16 and value != node.inputs[-1]:
            raise CompileError(f"{node.name}: channel concat of NC1HWC0 maps needs every input "
                               "but the last to have a multiple of 16 channels")
        if axis == rank - 1:
            row_map = np.arange(numel(out.shape[:-1]))
            pieces.append(Piece(src, row_map, 0, offset, size))
        else:
            row_map = np.full(numel(out.shape[:-1]), -1, dtype=np.int64)
            index = tuple(slice(offset, offset + size) if a == axis else slice(None)
                          for a in range(rank - 1))
            row_map[out_rows[index].reshape(-1)] = np.arange(numel(src.shape[:-1]))
            pieces.append(Piece(src, row_map, 0, 0, out.shape[-1]))
        offset += size
    emit_assembly(ctx, node, Assembly(out, pieces), "concat")


@rule(OpCode.PAD)
def lower_pad(ctx: LoweringContext, node: Node) -> None:
    """Constant padding: the tile is filled with the value, input rows are copied in (shifted
    right by the left pad of the last axis), and the columns the copy overran are refilled.
    Reflect and edge padding of the leading axes are row maps."""
    at = node.attrs
    src, out = _ndp(ctx, node.inputs[0], node.name), _ndp(ctx, node.outputs[0], node.name, True)
    rank = len(src.shape)
    begins, ends = at.pads[:rank], at.pads[rank:]
    if at.mode != "constant":
        if begins[-1] or ends[-1]:
            raise CompileError(f"{node.name}: {at.mode} padding of the last axis reverses or "
                               "repeats lanes, which the vector ISA cannot do; only leading "
                               "axes are lowered for this mode")
        # reflect / edge on leading axes: every output row is some input row
        widths = list(zip(begins[:-1], ends[:-1], strict=True))
        row_map = np.pad(_row_index(src.shape), widths, mode=at.mode).reshape(-1)
        emit_assembly(ctx, node, Assembly(out, [Piece(src, row_map, 0, 0, out.shape[-1])]), "pad")
        return
    out_rows = _row_index(out.shape)
    row_map = np.full(numel(out.shape[:-1]), -1, dtype=np.int64)
    index = tuple(slice(begins[a], begins[a] + src.shape[a]) for a in range(rank - 1))
    row_map[out_rows[index].reshape(-1)] = np.arange(numel(src.shape[:-1]))
    left, length = begins[-1], src.shape[-1]
    piece = Piece(src, row_map, -left, 0, out.shape[-1])
    fixes = [(0, left, at.value), (left + length, out.shape[-1], at.value)]
    emit_assembly(ctx, node, Assembly(out, [piece], at.value, True, fixes), "pad")


@rule(OpCode.GATHER)
def lower_gather(ctx: LoweringContext, node: Node) -> None:
    """Gather with constant indices along a leading axis: a row map."""
    x, indices = node.inputs
    if not ctx.is_constant(indices):
        raise CompileError(f"{node.name}: gather with run-time indices needs data-dependent "
                           "addresses, which the DaVinci stream (no scalar loads) cannot form")
    src, out = _ndp(ctx, x, node.name), _ndp(ctx, node.outputs[0], node.name, True)
    axis = norm_axis(node.attrs.axis, len(src.shape))
    if axis == len(src.shape) - 1:
        raise CompileError(f"{node.name}: gather along the last axis needs lane gathers")
    idx = ctx.constant(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + src.shape[axis], idx)
    rows = np.take(_row_index(src.shape), idx, axis=axis).reshape(-1)
    emit_assembly(ctx, node, Assembly(out, [Piece(src, rows, 0, 0, out.shape[-1])]), "gather")


@rule(OpCode.EXPAND)
def lower_expand(ctx: LoweringContext, node: Node) -> None:
    """Broadcast: the element-wise kernel with an identity chain does every broadcast kind."""
    out = place_output(ctx, node.outputs[0], node.inputs)
    x = node.inputs[0]
    ext = classify(ctx, x, out, node.name)
    if ext.kind == "imm":
        _fill(ctx, node, out, ext.imm)
        return
    mode = "rows" if ext.kind in ("row", "rows") else "chan" if ext.kind == "chan" else "flat"
    kernel = ChainKernel([ChainOp(OpCode.IDENTITY, None, (x,))], {x: ext}, out, mode,
                     (out.shape or (1,))[-1] % 16 != 0 and out.layout == "ndp", 0)
    emit_elementwise(ctx, node, kernel)


def _fill(ctx: LoweringContext, node: Node, out: TensorPlacement, value: float) -> None:
    if out.layout != "ndp":
        raise CompileError(f"{node.name}: a constant {out.layout} tensor should have been folded")
    emit_assembly(ctx, node, Assembly(out, [], value, True), "fill")


@rule(OpCode.FILL)
def lower_fill(ctx: LoweringContext, node: Node) -> None:
    """A tensor of one value (vector_dup), padding zeroed."""
    _fill(ctx, node, _ndp(ctx, node.outputs[0], node.name, True), node.attrs.value)
