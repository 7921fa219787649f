"""UB-level vector emitters: element-wise ops over strided tiles, with repeats, strides and masks.

Every emitter appends flag-free vector instructions to a `StreamBuilder` (flags are inserted
later from reads()/writes()). The data an emitter walks is described by a `Geometry`: ``rows``
rows of ``cols`` elements, ``row_stride`` 32 B blocks apart, plus an optional partial last row
(``tail`` elements) so that a flat run of ``count`` elements is one geometry too. An operand is
an `Opnd`: its UB address and how it follows the geometry -- its own row stride (0 repeats one
row for every row: a row-vector broadcast) and its block stride (0 re-reads one 32 B block for
the whole repeat: a per-row broadcast of a 16-lane block).

Hardware rules honoured here (facts/davinci.md §1.2, isa.davinci.vector): one repeat is 256 B
(128 fp16 / 64 fp32 lanes), ``repeat`` <= 255 per instruction (longer runs loop), strides <=
255 blocks, and lanes past a partial row are disabled with the normal-mode mask, which every
emitter restores to all-ones before returning (the invariant callers rely on).

The public entry points used by the Cube kernels' epilogues are `scratch_bytes`,
`emit_unary`, `emit_binary`, `emit_scalar`, `emit_channel_add` and `emit_channel_op` (fp16
data already in UB, ``count`` contiguous elements, 32 B aligned).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from compiler.davinci.builder import StreamBuilder
from compiler.errors import CompileError
from framework import OpCode
from isa.davinci import (
    Addr,
    DType,
    SetMask,
    VBinary,
    VBinOp,
    VConv,
    VDup,
    VReduce,
    VReduceOp,
    VScalar,
    VScalarOp,
    VUnary,
    VUnOp,
)
from isa.davinci.sync import FULL_MASK
from isa.davinci.types import BLOCK_BYTES, BLOCKS_PER_REPEAT, REPEAT_BYTES

FP16 = DType.FP16
MAX_REPEAT = 255  # repeatTime is 8-bit [ASC-HIDIM] facts §1.2
MAX_STRIDE = 255  # block / repeat strides are 8-bit [AKG-PARAMS] facts §1.2


def lanes_of(dtype: DType) -> int:
    """Elements in one 256 B repeat of ``dtype``."""
    return REPEAT_BYTES // dtype.itemsize


def c0_of(dtype: DType) -> int:
    """Elements in one 32 B block of ``dtype``."""
    return BLOCK_BYTES // dtype.itemsize


@dataclass(frozen=True, slots=True)
class Geometry:
    """``rows`` rows of ``cols`` elements (``row_stride`` blocks apart), then a partial row of
    ``tail`` elements; ``cols`` past one repeat are walked in 256 B column chunks."""

    rows: int
    cols: int
    row_stride: int
    dtype: DType = FP16
    tail: int = 0

    @staticmethod
    def flat(count: int, dtype: DType = FP16) -> Geometry:
        """``count`` contiguous elements as full repeats plus a masked tail."""
        lanes = lanes_of(dtype)
        return Geometry(count // lanes, lanes, lanes * dtype.itemsize // BLOCK_BYTES, dtype,
                        count % lanes)

    @property
    def lanes(self) -> int:
        return lanes_of(self.dtype)

    def pieces(self, max_operand_stride: int = 0) -> Iterator[tuple[int, int, int, int, bool]]:
        """(first row, first column, repeats, active lanes, along_rows) of each instruction.

        Rows are walked one of two ways, whichever needs fewer instructions: along rows (one
        instruction per 256 B column chunk and 255 rows, the repeat stride being the row
        stride) or, for long rows, along columns (per row, repeats advance 256 B)."""
        lanes = self.lanes
        chunks, partial = divmod(self.cols, lanes)
        along_rows = -(-self.cols // lanes) * -(-self.rows // MAX_REPEAT)
        along_cols = self.rows * (-(-chunks // MAX_REPEAT) + (1 if partial else 0))
        strides_fit = max(self.row_stride, max_operand_stride) <= MAX_STRIDE
        if self.rows and strides_fit and along_rows <= along_cols:
            for col in range(0, self.cols, lanes):
                for row in range(0, self.rows, MAX_REPEAT):
                    yield (row, col, min(MAX_REPEAT, self.rows - row),
                           min(lanes, self.cols - col), True)
        else:
            for row in range(self.rows):
                for first in range(0, chunks, MAX_REPEAT):
                    yield row, first * lanes, min(MAX_REPEAT, chunks - first), lanes, False
                if partial:
                    yield row, chunks * lanes, 1, partial, False
        if self.tail:
            yield self.rows, 0, 1, self.tail, True


@dataclass(frozen=True, slots=True)
class Opnd:
    """A UB operand: ``row_stride`` (None = the geometry's; 0 = one row for all rows) and
    ``blk_stride`` (0 = one 32 B block re-read across the repeat, no column advance)."""

    addr: Addr
    row_stride: int | None = None
    blk_stride: int = 1

    def stride(self, geo: Geometry) -> int:
        """The row stride in blocks this operand uses under ``geo``."""
        return geo.row_stride if self.row_stride is None else self.row_stride

    def at(self, geo: Geometry, row: int, col: int, along_rows: bool) -> tuple[Addr, int]:
        """(address of the piece starting at (row, col), its repeat stride)."""
        stride = self.stride(geo)
        offset = row * stride * BLOCK_BYTES
        # column `col` (a multiple of the repeat's lanes) sits col / C0 blocks in, each
        # blk_stride blocks apart
        offset += (col // c0_of(geo.dtype)) * self.blk_stride * BLOCK_BYTES
        if along_rows:
            return self.addr + offset, min(stride, MAX_STRIDE)
        return self.addr + offset, BLOCKS_PER_REPEAT * self.blk_stride


def opnd(x: Addr | Opnd) -> Opnd:
    return x if isinstance(x, Opnd) else Opnd(x)


def lane_mask(active: int, lanes: int = 128) -> tuple[int, int]:
    """(hi, lo) enabling lanes 0..active-1 (64-lane types use lo only)."""
    bits = (1 << active) - 1
    return (bits >> 64) & FULL_MASK, bits & FULL_MASK


def block_lane_mask(first: int, last: int, lanes: int = 128, block: int = 16) -> tuple[int, int]:
    """(hi, lo) enabling lanes first..last-1 of every ``block``-lane block of the repeat."""
    bits = 0
    for base in range(0, lanes, block):
        bits |= ((1 << (last - first)) - 1) << (base + first)
    return (bits >> 64) & FULL_MASK, bits & FULL_MASK


def set_mask(sb: StreamBuilder, mask: tuple[int, int]) -> None:
    sb.emit(SetMask(hi=mask[0], lo=mask[1]))


def full_mask(sb: StreamBuilder) -> None:
    sb.emit(SetMask(hi=FULL_MASK, lo=FULL_MASK))


def _each(sb: StreamBuilder, geo: Geometry, build: Any, *operands: Opnd) -> None:
    """Call ``build(row, repeats, col, along_rows)`` per piece, masking partial pieces."""
    widest = max((o.stride(geo) for o in operands), default=0)
    for row, col, rows, active, along in geo.pieces(widest):
        if active < geo.lanes:
            set_mask(sb, lane_mask(active, geo.lanes))
        sb.emit(build(row, rows, col, along))
        if active < geo.lanes:
            full_mask(sb)


# --- primitive instructions over a geometry ---------------------------------------------------

def vbin(sb: StreamBuilder, geo: Geometry, op: VBinOp, dst: Addr | Opnd, a: Addr | Opnd,
         b: Addr | Opnd) -> None:
    """dst = a op b."""
    d, x, y = opnd(dst), opnd(a), opnd(b)

    def build(row: int, rows: int, col: int, along: bool) -> VBinary:
        (da, ds), (xa, xs) = d.at(geo, row, col, along), x.at(geo, row, col, along)
        ya, ys = y.at(geo, row, col, along)
        return VBinary(op, geo.dtype, da, xa, ya, rows, d.blk_stride, x.blk_stride, y.blk_stride,
                       ds, xs, ys)

    _each(sb, geo, build, d, x, y)


def vun(sb: StreamBuilder, geo: Geometry, op: VUnOp, dst: Addr | Opnd, src: Addr | Opnd) -> None:
    """dst = op(src)."""
    d, s = opnd(dst), opnd(src)

    def build(row: int, rows: int, col: int, along: bool) -> VUnary:
        (da, ds), (sa, ss) = d.at(geo, row, col, along), s.at(geo, row, col, along)
        return VUnary(op, geo.dtype, da, sa, rows, d.blk_stride, s.blk_stride, ds, ss)

    _each(sb, geo, build, d, s)


def vsc(sb: StreamBuilder, geo: Geometry, op: VScalarOp, dst: Addr | Opnd, src: Addr | Opnd,
        scalar: float) -> None:
    """dst = src op scalar (an immediate)."""
    d, s = opnd(dst), opnd(src)

    def build(row: int, rows: int, col: int, along: bool) -> VScalar:
        (da, ds), (sa, ss) = d.at(geo, row, col, along), s.at(geo, row, col, along)
        return VScalar(op, geo.dtype, da, sa, float(scalar), rows, d.blk_stride, s.blk_stride,
                       ds, ss)

    _each(sb, geo, build, d, s)


def vdup(sb: StreamBuilder, geo: Geometry, dst: Addr | Opnd, scalar: float) -> None:
    """dst = scalar."""
    d = opnd(dst)

    def build(row: int, rows: int, col: int, along: bool) -> VDup:
        da, ds = d.at(geo, row, col, along)
        return VDup(geo.dtype, da, float(scalar), rows, d.blk_stride, ds)

    _each(sb, geo, build, d)


def vcopy(sb: StreamBuilder, geo: Geometry, dst: Addr | Opnd, src: Addr | Opnd) -> None:
    """dst = src (vadds 0 on floats, vor with itself on integers: exact for both)."""
    if geo.dtype.is_float:
        vsc(sb, geo, VScalarOp.ADDS, dst, src, 0.0)
    else:
        vbin(sb, geo, VBinOp.OR, dst, src, src)


def vconv_flat(sb: StreamBuilder, dst: Addr, src: Addr, count: int, dst_dtype: DType,
               src_dtype: DType) -> None:
    """``count`` contiguous elements converted ``src_dtype`` -> ``dst_dtype`` (a repeat covers
    256 B of the wider type; the narrower side advances proportionally fewer blocks)."""
    wide = max(dst_dtype.itemsize, src_dtype.itemsize)
    lanes = REPEAT_BYTES // wide
    d_step, s_step = lanes * dst_dtype.itemsize // BLOCK_BYTES, lanes * src_dtype.itemsize // 32
    full, tail = divmod(count, lanes)
    for first in range(0, full, MAX_REPEAT):
        reps = min(MAX_REPEAT, full - first)
        sb.emit(VConv(dst_dtype, src_dtype, dst + first * lanes * dst_dtype.itemsize,
                      src + first * lanes * src_dtype.itemsize, reps, 1, 1, d_step, s_step))
    if tail:
        set_mask(sb, lane_mask(tail, lanes))
        sb.emit(VConv(dst_dtype, src_dtype, dst + full * lanes * dst_dtype.itemsize,
                      src + full * lanes * src_dtype.itemsize, 1, 1, 1, d_step, s_step))
        full_mask(sb)


def fill_row_lanes(sb: StreamBuilder, dst: Addr, rows: int, row_stride: int, first: int,
                   last: int, value: float, dtype: DType = FP16) -> None:
    """Set lanes first..last-1 (within one 32 B block at ``dst``) of every row to ``value``:
    the padding of an ndp row, or the neutral element before a reduction."""
    if first >= last or rows <= 0:
        return
    lanes = lanes_of(dtype)
    hi_l, lo_l = lane_mask(last, lanes)
    hi_f, lo_f = lane_mask(first, lanes)
    set_mask(sb, (hi_l & ~hi_f, lo_l & ~lo_f))
    for row in range(0, rows, MAX_REPEAT):
        count = min(MAX_REPEAT, rows - row)
        if row_stride > MAX_STRIDE:
            for r in range(row, row + count):
                sb.emit(VDup(dtype, dst + r * row_stride * BLOCK_BYTES, float(value), 1, 1, 0))
        else:
            sb.emit(VDup(dtype, dst + row * row_stride * BLOCK_BYTES, float(value), count, 1,
                         row_stride))
    full_mask(sb)


def row_reduce(sb: StreamBuilder, op: VReduceOp, dst: Addr, src: Addr, rows: int,
               row_stride: int, active: int, dst_stride: int = 1, dtype: DType = FP16) -> None:
    """dst[r * dst_stride] = reduce of lanes 0..active-1 (<= one repeat) of row r."""
    lanes = lanes_of(dtype)
    if active < lanes:
        set_mask(sb, lane_mask(active, lanes))
    for row in range(0, rows, MAX_REPEAT):
        count = min(MAX_REPEAT, rows - row)
        if row_stride > MAX_STRIDE:
            for r in range(row, row + count):
                sb.emit(VReduce(op, dtype, dst + r * dst_stride * dtype.itemsize,
                                src + r * row_stride * BLOCK_BYTES, 1, 1, 0, 0))
            continue
        sb.emit(VReduce(op, dtype, dst + row * dst_stride * dtype.itemsize,
                        src + row * row_stride * BLOCK_BYTES, count, 1, row_stride, dst_stride))
    if active < lanes:
        full_mask(sb)


def broadcast_lane0(sb: StreamBuilder, dst: Addr, src: Addr, rows: int, src_stride: int,
                    dtype: DType = FP16) -> None:
    """Block r of ``dst`` (rows x 32 B, contiguous) <- lane 0 of the block at ``src + r *
    src_stride`` blocks, in every lane. The ISA has no lane shuffle: each lane is written by a
    one-lane ``vcmax`` (one repeat per written element), C0 instructions per 255 rows."""
    c0 = c0_of(dtype)
    for lane in range(c0):
        row_reduce(sb, VReduceOp.MAX, dst + lane * dtype.itemsize, src, rows, src_stride, 1,
                   dst_stride=c0, dtype=dtype)


def row_stat(sb: StreamBuilder, op: VBinOp, work: Addr, out: Addr, rows: int, row_stride: int,
             row_blocks: int, dtype: DType = FP16) -> None:
    """Block r of ``out`` <- the ``op`` reduction (vmax or vadd) of row r of ``work`` (rows of
    ``row_blocks`` blocks, ``row_stride`` apart; destroyed), in every lane of the block.
    Padding lanes must already hold the neutral element.

    Rows fold pairwise to one repeat, then each lane of the result block is one ``vcmax`` /
    ``vcadd`` of the folded repeat: C0 one-element reductions per row, because the ISA has no
    lane broadcast (fp32 rows need 8, which is why the normalisations compute in fp32)."""
    left = block_reduce_rows(sb, op, work, rows, row_stride, row_blocks, dtype)
    rop = VReduceOp.MAX if op is VBinOp.MAX else VReduceOp.SUM
    c0 = c0_of(dtype)
    for lane in range(c0):
        row_reduce(sb, rop, out + lane * dtype.itemsize, work, rows, row_stride, left * c0,
                   dst_stride=c0, dtype=dtype)


def block_reduce_rows(sb: StreamBuilder, op: VBinOp, buf: Addr, rows: int, row_stride: int,
                      blocks: int, dtype: DType = FP16) -> int:
    """Fold each row's first ``blocks`` blocks pairwise in place (block i op= block i + half)
    until at most one repeat (8 blocks) is left; returns the blocks left. Padding lanes must
    already hold the op's neutral element."""
    while blocks > 8:
        half = blocks // 2
        keep = blocks - half  # the middle block (odd counts) stays as it is
        geo = Geometry(rows, half * c0_of(dtype), row_stride, dtype)
        vbin(sb, geo, op, buf, buf, Opnd(buf + keep * BLOCK_BYTES))
        blocks = keep
    return blocks


# --- the epilogue interface -------------------------------------------------------------------

def _recorded(emitter: Callable[..., None]) -> Callable[..., None]:
    """``emitter`` replayed from a record of its instructions per distinct argument list.

    The entry points below only emit (they never allocate), so equal arguments give equal
    instructions, and a network's tiles ask for the same few epilogues thousands of times.
    Unhashable arguments (attrs holding a list, say) are emitted afresh. Equal arguments share
    a record, so a scalar -0.0 replays what 0.0 gave (or the reverse)."""
    @functools.lru_cache(maxsize=4096)
    def record(args: tuple, kwargs: tuple) -> tuple:
        scratch = StreamBuilder({})
        emitter(scratch, *args, **dict(kwargs))
        return tuple(scratch.instructions)

    @functools.wraps(emitter)
    def emit(sb: StreamBuilder, *args: Any, **kwargs: Any) -> None:
        key = (args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            emitter(sb, *args, **kwargs)
            return
        sb.emit(*record(*key))

    return emit


def scratch_bytes(op: OpCode, attrs: Any, count: int) -> int:
    """UB scratch bytes `emit_unary` / `emit_binary` need for ``count`` fp16 elements."""
    from compiler.davinci.kernels.vector_math import SCRATCH_TILES

    tiles = SCRATCH_TILES.get(op, 0)
    return tiles * -(-count * 2 // BLOCK_BYTES) * BLOCK_BYTES


@_recorded
def emit_unary(sb: StreamBuilder, op: OpCode, attrs: Any, dst: Addr, src: Addr, count: int,
               scratch: Addr | None) -> None:
    """dst = op(src) on ``count`` contiguous fp16 elements (dst may equal src)."""
    from compiler.davinci.kernels.vector_math import unary

    unary(sb, Geometry.flat(count), op, attrs, Opnd(dst), Opnd(src),
          Opnd(scratch) if scratch is not None else None)


@_recorded
def emit_binary(sb: StreamBuilder, op: OpCode, dst: Addr, a: Addr, b: Addr, count: int,
                scratch: Addr | None = None) -> None:
    """dst = a op b on ``count`` contiguous fp16 elements (dst may equal a or b)."""
    from compiler.davinci.kernels.vector_math import binary

    binary(sb, Geometry.flat(count), op, Opnd(dst), Opnd(a), Opnd(b),
           Opnd(scratch) if scratch is not None else None)


@_recorded
def emit_scalar(sb: StreamBuilder, op: OpCode, dst: Addr, src: Addr, scalar: float, count: int,
                swap: bool = False) -> None:
    """dst = src op scalar (``swap``: scalar op src) on ``count`` contiguous fp16 elements."""
    from compiler.davinci.kernels.vector_math import binary_scalar

    binary_scalar(sb, Geometry.flat(count), op, Opnd(dst), Opnd(src), scalar, swap)


def emit_channel_add(sb: StreamBuilder, dst: Addr, src: Addr, bias: Addr, rows: int,
                     blocks: int) -> None:
    """NZ / NC1HWC0 tile: block column j (``rows`` x 16 fp16 at ``dst + j * rows * 32``) gets
    ``bias[j * 16 + c]`` added to every row; the bias block is broadcast with a block and repeat
    stride of 0."""
    emit_channel_op(sb, OpCode.ADD, dst, src, bias, rows, blocks)


_CHANNEL_OPS = {OpCode.ADD: VBinOp.ADD, OpCode.SUB: VBinOp.SUB, OpCode.MUL: VBinOp.MUL,
                OpCode.DIV: VBinOp.DIV, OpCode.MAXIMUM: VBinOp.MAX, OpCode.MINIMUM: VBinOp.MIN}


@_recorded
def emit_channel_op(sb: StreamBuilder, op: OpCode, dst: Addr, src: Addr, vec: Addr, rows: int,
                    blocks: int, swap: bool = False) -> None:
    """Like `emit_channel_add` for any of add, sub, mul, div, maximum, minimum with a
    per-channel vector (a folded batch-norm scale, a per-channel clamp); ``swap`` computes
    vec op tile instead of tile op vec."""
    if op not in _CHANNEL_OPS:
        raise CompileError(f"vector: no per-channel lowering for {op.value}")
    if rows <= 0 or blocks <= 0:
        return
    geo = Geometry.flat(rows * 16)
    for j in range(blocks):
        off = j * rows * BLOCK_BYTES
        channel = Opnd(vec + j * BLOCK_BYTES, row_stride=0, blk_stride=0)
        a, b = (channel, Opnd(src + off)) if swap else (Opnd(src + off), channel)
        vbin(sb, geo, _CHANNEL_OPS[op], dst + off, a, b)


def with_dtype(geo: Geometry, dtype: DType) -> Geometry:
    """The same walk over elements of another type (strides in blocks are kept)."""
    return replace(geo, dtype=dtype)


def check_count(count: int, what: str) -> None:
    if count <= 0:
        raise CompileError(f"{what}: element count {count} must be positive")
