"""Vector-unit instructions: binary, unary and scalar element-wise ops, duplication,
conversion and intra-repeat reductions, all over UB with repeat, block stride, repeat stride
and the mask (facts §1.2, [ASC-HIDIM]).

One repeat processes 256 B as 8 blocks of 32 B. A block stride is the distance between the 8
blocks of one repeat and a repeat stride the distance between repeats, both in 32 B blocks. The
mask is scalar state captured when the instruction issues (see ``isa.davinci.sync``): in normal
mode it selects lanes of every repeat; in counter mode it gives the total element count and the
hardware derives the repeats, ignoring ``repeat``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from isa.davinci.base import Instruction
from isa.davinci.types import (
    BLOCK_BYTES,
    BLOCKS_PER_REPEAT,
    REPEAT_BYTES,
    Addr,
    DType,
    Pipe,
    Region,
    Space,
    strided_extent,
)


class VBinOp(Enum):
    """Binary element-wise ops: dst = src0 op src1."""

    ADD = "vadd"
    SUB = "vsub"
    MUL = "vmul"
    DIV = "vdiv"
    MAX = "vmax"
    MIN = "vmin"
    AND = "vand"
    OR = "vor"


class VUnOp(Enum):
    """Unary element-wise ops: dst = op(src)."""

    EXP = "vexp"
    LN = "vln"
    SQRT = "vsqrt"
    RSQRT = "vrsqrt"
    REC = "vrec"
    ABS = "vabs"
    RELU = "vrelu"
    NOT = "vnot"


class VScalarOp(Enum):
    """Vector-scalar ops: dst = src op scalar (vlrelu: src if src > 0 else src * scalar)."""

    ADDS = "vadds"
    MULS = "vmuls"
    MAXS = "vmaxs"
    MINS = "vmins"
    LRELU = "vlrelu"


class VReduceOp(Enum):
    """Intra-repeat reductions: each repeat's unmasked lanes reduce to one value."""

    SUM = "vcadd"
    MAX = "vcmax"
    MIN = "vcmin"


def _src_region(instr, blocks: int = 8) -> Region:
    """The source operand of a one-source instruction (``blocks`` 32 B blocks per repeat)."""
    return _ub_region(instr.src, instr.src_blk_stride, instr.src_rep_stride, instr.repeat, blocks)


def _dst_region(instr, blocks: int = 8) -> Region:
    """The destination operand (``blocks`` 32 B blocks per repeat)."""
    return _ub_region(instr.dst, instr.dst_blk_stride, instr.dst_rep_stride, instr.repeat, blocks)


def _ub_region(addr: Addr, blk_stride: int, rep_stride: int, repeat: int, blocks: int) -> Region:
    extent = strided_extent(blk_stride, rep_stride, repeat, blocks)
    return Region(addr.space, addr.offset, addr.offset + extent)


@dataclass(frozen=True, slots=True)
class VectorInstruction(Instruction):
    """Common base of vector-pipe compute instructions (all operands in UB)."""

    @property
    def pipe(self) -> Pipe:
        return Pipe.V

    @property
    def mnemonic(self) -> str:
        op = getattr(self, "op", None)
        return op.value if op is not None else self.MNEMONIC

    @property
    def lanes(self) -> int:
        """Elements per repeat (256 B of the widest element type)."""
        return REPEAT_BYTES // self.element_bytes

    @property
    def element_bytes(self) -> int:
        return self.dtype.itemsize  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class VBinary(VectorInstruction):
    """``vadd``/``vsub``/``vmul``/``vdiv``/``vmax``/``vmin``/``vand``/``vor``."""

    op: VBinOp
    dtype: DType
    dst: Addr
    src0: Addr
    src1: Addr
    repeat: int = 1
    dst_blk_stride: int = 1
    src0_blk_stride: int = 1
    src1_blk_stride: int = 1
    dst_rep_stride: int = 8
    src0_rep_stride: int = 8
    src1_rep_stride: int = 8

    def reads(self) -> tuple[Region, ...]:
        return (
            _ub_region(self.src0, self.src0_blk_stride, self.src0_rep_stride, self.repeat, 8),
            _ub_region(self.src1, self.src1_blk_stride, self.src1_rep_stride, self.repeat, 8),
        )

    def writes(self) -> tuple[Region, ...]:
        return (_dst_region(self),)


@dataclass(frozen=True, slots=True)
class VUnary(VectorInstruction):
    """``vexp``/``vln``/``vsqrt``/``vrsqrt``/``vrec``/``vabs``/``vrelu``/``vnot``."""

    op: VUnOp
    dtype: DType
    dst: Addr
    src: Addr
    repeat: int = 1
    dst_blk_stride: int = 1
    src_blk_stride: int = 1
    dst_rep_stride: int = 8
    src_rep_stride: int = 8

    def reads(self) -> tuple[Region, ...]:
        return (_src_region(self),)

    def writes(self) -> tuple[Region, ...]:
        return (_dst_region(self),)


@dataclass(frozen=True, slots=True)
class VScalar(VectorInstruction):
    """``vadds``/``vmuls``/``vmaxs``/``vmins``/``vlrelu`` with an immediate scalar."""

    op: VScalarOp
    dtype: DType
    dst: Addr
    src: Addr
    scalar: float
    repeat: int = 1
    dst_blk_stride: int = 1
    src_blk_stride: int = 1
    dst_rep_stride: int = 8
    src_rep_stride: int = 8

    def reads(self) -> tuple[Region, ...]:
        return (_src_region(self),)

    def writes(self) -> tuple[Region, ...]:
        return (_dst_region(self),)


@dataclass(frozen=True, slots=True)
class VDup(VectorInstruction):
    """``vector_dup``: fill the unmasked lanes of every repeat with ``scalar``."""

    MNEMONIC = "vector_dup"
    dtype: DType
    dst: Addr
    scalar: float
    repeat: int = 1
    dst_blk_stride: int = 1
    dst_rep_stride: int = 8

    def writes(self) -> tuple[Region, ...]:
        return (_dst_region(self),)


@dataclass(frozen=True, slots=True)
class VConv(VectorInstruction):
    """``vconv``: element-wise conversion ``src_dtype`` -> ``dst_dtype`` (round to nearest,
    saturating for integers). A repeat covers 256 B of the wider type; on each side the
    repeat's elements occupy ``lanes * itemsize / 32`` blocks, strided by that side's strides."""

    MNEMONIC = "vconv"
    dst_dtype: DType
    src_dtype: DType
    dst: Addr
    src: Addr
    repeat: int = 1
    dst_blk_stride: int = 1
    src_blk_stride: int = 1
    dst_rep_stride: int = 8
    src_rep_stride: int = 8

    @property
    def element_bytes(self) -> int:
        return max(self.dst_dtype.itemsize, self.src_dtype.itemsize)

    def blocks(self, dtype: DType) -> int:
        """32 B blocks one repeat occupies on the side of ``dtype``."""
        return self.lanes * dtype.itemsize // BLOCK_BYTES

    def reads(self) -> tuple[Region, ...]:
        return (_src_region(self, self.blocks(self.src_dtype)),)

    def writes(self) -> tuple[Region, ...]:
        return (_dst_region(self, self.blocks(self.dst_dtype)),)


@dataclass(frozen=True, slots=True)
class VReduce(VectorInstruction):
    """``vcadd``/``vcmax``/``vcmin``: each repeat's unmasked lanes reduce to one element,
    written at ``dst + r * dst_rep_stride * itemsize`` (the destination stride counts
    elements, as in CCE)."""

    op: VReduceOp
    dtype: DType
    dst: Addr
    src: Addr
    repeat: int = 1
    src_blk_stride: int = 1
    src_rep_stride: int = 8
    dst_rep_stride: int = 1

    def reads(self) -> tuple[Region, ...]:
        return (_ub_region(self.src, self.src_blk_stride, self.src_rep_stride, self.repeat, 8),)

    def writes(self) -> tuple[Region, ...]:
        size = self.dtype.itemsize
        extent = ((self.repeat - 1) * self.dst_rep_stride + 1) * size if self.repeat > 0 else 0
        return (Region(Space.UB, self.dst.offset, self.dst.offset + extent),)


VECTOR_BLOCKS = BLOCKS_PER_REPEAT
