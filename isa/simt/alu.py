"""ALU, FMA, special-function, conversion, compare/select, predicate, special-register and
parameter instructions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from isa.simt.base import FuncUnit, Instruction, regs_of
from isa.simt.types import CmpOp, DType, Operand, Pred, Reg, SReg


class BinOp(Enum):
    """Two-source ALU ops; mul of integers keeps the low 32 bits; shr is arithmetic for s32."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    MIN = "min"
    MAX = "max"
    DIV = "div"
    REM = "rem"
    AND = "and"
    OR = "or"
    XOR = "xor"
    SHL = "shl"
    SHR = "shr"


BITWISE_OPS = frozenset({BinOp.AND, BinOp.OR, BinOp.XOR, BinOp.SHL, BinOp.SHR, BinOp.REM})
"""Binary ops defined on integer types only."""


def _alu_unit(dtype: DType) -> FuncUnit:
    return {DType.F32: FuncUnit.FP32, DType.F16X2: FuncUnit.FP16}.get(dtype, FuncUnit.INT)


@dataclass(frozen=True, slots=True)
class Binary(Instruction):
    """``d = a op b`` per lane. f32 div runs on the SFU (PTX div.approx: rcp + mul)."""

    op: BinOp
    type: DType
    d: Reg
    a: Operand
    b: Operand

    @property
    def unit(self) -> FuncUnit:
        if self.op is BinOp.DIV and self.type.is_float:
            return FuncUnit.SFU
        return _alu_unit(self.type)

    def srcs(self) -> tuple[Reg, ...]:
        return regs_of(self.a, self.b)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


class UnOp(Enum):
    MOV = "mov"
    NEG = "neg"
    ABS = "abs"
    NOT = "not"


@dataclass(frozen=True, slots=True)
class Unary(Instruction):
    """``d = op(a)``; ``mov`` copies a register or loads an immediate."""

    op: UnOp
    type: DType
    d: Reg
    a: Operand

    @property
    def unit(self) -> FuncUnit:
        return _alu_unit(self.type)

    def srcs(self) -> tuple[Reg, ...]:
        return regs_of(self.a)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


class FmaOp(Enum):
    FMA = "fma"  # float d = a * b + c, single rounding
    MAD = "mad"  # integer d = lo32(a * b) + c


@dataclass(frozen=True, slots=True)
class Fma(Instruction):
    """Fused multiply-add ``d = a * b + c``."""

    op: FmaOp
    type: DType
    d: Reg
    a: Operand
    b: Operand
    c: Operand

    @property
    def unit(self) -> FuncUnit:
        return _alu_unit(self.type)

    def srcs(self) -> tuple[Reg, ...]:
        return regs_of(self.a, self.b, self.c)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


class SfuOp(Enum):
    """Special-function ops on f32 (PTX *.approx.f32 via MUFU): ex2/lg2 are base 2, exp/log
    natural (ex2/lg2 plus a multiply, as PTX compiles them)."""

    EX2 = "ex2"
    LG2 = "lg2"
    EXP = "exp"
    LOG = "log"
    RCP = "rcp"
    SQRT = "sqrt"
    RSQRT = "rsqrt"
    SIN = "sin"
    COS = "cos"
    TANH = "tanh"


@dataclass(frozen=True, slots=True)
class Sfu(Instruction):
    """``d = op(a)`` on the special-function unit (f32)."""

    op: SfuOp
    d: Reg
    a: Reg

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.SFU

    def srcs(self) -> tuple[Reg, ...]:
        return (self.a,)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


@dataclass(frozen=True, slots=True)
class Cvt(Instruction):
    """Convert ``a`` of type ``src`` to ``dst``: float -> int rounds toward zero and saturates
    (cvt.rzi.sat), f32 -> f16 rounds to nearest even into the low 16 bits (upper bits zero),
    f16 reads the low 16 bits."""

    MNEMONIC: ClassVar[str] = "cvt"
    dst: DType
    src: DType
    d: Reg
    a: Reg

    def srcs(self) -> tuple[Reg, ...]:
        return (self.a,)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


@dataclass(frozen=True, slots=True)
class Setp(Instruction):
    """Compare-and-set: ``p = a cmp b`` per lane."""

    MNEMONIC: ClassVar[str] = "setp"
    cmp: CmpOp
    type: DType
    p: Pred
    a: Operand
    b: Operand

    @property
    def unit(self) -> FuncUnit:
        return _alu_unit(self.type) if self.type is DType.F32 else FuncUnit.INT

    def srcs(self) -> tuple[Reg, ...]:
        return regs_of(self.a, self.b)

    def pred_dsts(self) -> tuple[Pred, ...]:
        return (self.p,)


@dataclass(frozen=True, slots=True)
class Selp(Instruction):
    """Select: ``d = p ? a : b`` per lane (bitwise, any type)."""

    MNEMONIC: ClassVar[str] = "selp"
    d: Reg
    a: Operand
    b: Operand
    p: Pred

    def srcs(self) -> tuple[Reg, ...]:
        return regs_of(self.a, self.b)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)

    def pred_srcs(self) -> tuple[Pred, ...]:
        return (*Instruction.pred_srcs(self), self.p)


class PredLogic(Enum):
    AND = "and.pred"
    OR = "or.pred"
    XOR = "xor.pred"
    NOT = "not.pred"  # d = !a; b unused


@dataclass(frozen=True, slots=True)
class PredOp(Instruction):
    """Predicate logic ``d = a op b`` (``b`` is ignored by not.pred and may be left out)."""

    op: PredLogic
    d: Pred
    a: Pred
    b: Pred | None = None

    def pred_srcs(self) -> tuple[Pred, ...]:
        own = (self.a,) if self.b is None else (self.a, self.b)
        return (*Instruction.pred_srcs(self), *own)

    def pred_dsts(self) -> tuple[Pred, ...]:
        return (self.d,)


@dataclass(frozen=True, slots=True)
class MovSreg(Instruction):
    """``d = special register`` (thread, block and grid ids, lane and warp ids, clock)."""

    MNEMONIC: ClassVar[str] = "mov.sreg"
    d: Reg
    s: SReg

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


@dataclass(frozen=True, slots=True)
class LdParam(Instruction):
    """``d = params[index]``: a kernel parameter (a buffer address or a scalar) from the launch."""

    MNEMONIC: ClassVar[str] = "ld.param"
    d: Reg
    index: int

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)
