"""Operand types of the SIMT ISA: registers, predicates, labels, data types, special registers.

Every register is 32 bits per lane (32 lanes per warp). Wider values occupy consecutive
registers (a 64-bit load into ``r4`` writes r4, r5; a 128-bit load r4..r7), as PTX's vector
loads ``ld.v2``/``ld.v4`` do. ``f16x2`` packs two fp16 values in one register, low half first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from isa.asm_fields import ValueTextError

LANES = 32
"""Threads per warp."""
MAX_REGS = 255
"""Registers per thread, as on every NVIDIA GPU since Kepler (facts/gpu.md §1, register file)."""
MAX_PREDS = 8
"""Predicate registers per thread (PTX/SASS have 7 + PT; one more keeps indices 0..7 simple)."""

_REG_RE = re.compile(r"^r(\d+)$")
_PRED_RE = re.compile(r"^(!?)p(\d+)$")
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.$]*$")


@dataclass(frozen=True, slots=True, order=True)
class Reg:
    """A 32-bit per-lane general register ``r<index>``."""

    index: int

    def __str__(self) -> str:
        return f"r{self.index}"

    @staticmethod
    def parse(text: str) -> Reg:
        match = _REG_RE.match(text)
        if match is None:
            raise ValueTextError(f"expected a register like r3, got {text!r}")
        return Reg(int(match.group(1)))


@dataclass(frozen=True, slots=True, order=True)
class Pred:
    """A 1-bit per-lane predicate ``p<index>``; ``neg`` reads it inverted (``!p1``)."""

    index: int
    neg: bool = False

    def __str__(self) -> str:
        return f"{'!' if self.neg else ''}p{self.index}"

    @staticmethod
    def parse(text: str) -> Pred:
        match = _PRED_RE.match(text)
        if match is None:
            raise ValueTextError(f"expected a predicate like p1 or !p1, got {text!r}")
        return Pred(int(match.group(2)), bool(match.group(1)))


class Label(str):
    """A branch target: the name of a ``NAME:`` line in the same program."""

    __slots__ = ()

    @staticmethod
    def parse(text: str) -> Label:
        if not _LABEL_RE.match(text):
            raise ValueTextError(f"expected a label name, got {text!r}")
        return Label(text)


Operand = Reg | int | float
"""A source operand: a register or an immediate (ints for integer ops, floats for float ops)."""


class DType(Enum):
    """Element type an ALU op interprets its 32-bit registers as."""

    U32 = "u32"
    S32 = "s32"
    F32 = "f32"
    F16X2 = "f16x2"  # two fp16 lanes per register (PTX .f16x2, SASS HADD2/HFMA2)
    F16 = "f16"  # conversions only: the low 16 bits of a register

    @property
    def is_float(self) -> bool:
        return self in (DType.F32, DType.F16X2, DType.F16)


class SReg(Enum):
    """Special registers read with ``mov.sreg`` (PTX %tid, %ntid, %ctaid, %nctaid, %laneid,
    %warpid, %clock). ``clock`` is the SM cycle counter at issue, as PTX %clock."""

    TID_X = "tid.x"
    TID_Y = "tid.y"
    TID_Z = "tid.z"
    NTID_X = "ntid.x"
    NTID_Y = "ntid.y"
    NTID_Z = "ntid.z"
    CTAID_X = "ctaid.x"
    CTAID_Y = "ctaid.y"
    CTAID_Z = "ctaid.z"
    NCTAID_X = "nctaid.x"
    NCTAID_Y = "nctaid.y"
    NCTAID_Z = "nctaid.z"
    LANEID = "laneid"
    WARPID = "warpid"
    CLOCK = "clock"


class CmpOp(Enum):
    """Comparisons of ``setp`` (float compares are ordered: false when either side is NaN)."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


class CacheOp(Enum):
    """PTX cache operators of global loads: ``ca`` caches in L1 and L2, ``cg`` only in L2
    (bypassing L1), as ld.global.ca / ld.global.cg."""

    CA = "ca"
    CG = "cg"


MEM_WIDTHS_BITS = (16, 32, 64, 128)
"""Access widths of ld/st (bits per lane); 64 and 128 move 2 and 4 consecutive registers."""
CP_ASYNC_WIDTHS_BITS = (32, 64, 128)
"""cp.async copies 4, 8 or 16 bytes per lane (PTX cp.async.ca/cg cp-size)."""


def regs_for_width(width_bits: int) -> int:
    """Registers moved by a ``width_bits`` access (16- and 32-bit accesses use one)."""
    return max(1, width_bits // 32)
