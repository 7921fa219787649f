"""SIMT warp instructions: one frozen dataclass per format, enum opcodes, typed operands.

Each instruction executes for the warp's active lanes whose guard predicate holds (``@p1`` /
``@!p1`` in assembly, field ``guard``). Every format states the function unit that executes it
(`FuncUnit`, the pipes of facts/gpu.md §9.4) and the registers and predicates it reads and
writes, which the scoreboard, the verifier and a compiler's scheduler use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from isa.simt.types import CacheOp, CmpOp, DType, Label, Operand, Pred, Reg, SReg, regs_for_width


class FuncUnit(Enum):
    """Function-unit pipes of a sub-core (Accel-Sim's SP/INT/SFU/TENSOR/LDST/BRA classes)."""

    INT = "int"
    FP32 = "fp32"
    FP16 = "fp16"
    SFU = "sfu"
    TENSOR = "tensor"
    LSU = "lsu"
    BRANCH = "branch"


def _regs(*operands: object) -> tuple[Reg, ...]:
    return tuple(o for o in operands if isinstance(o, Reg))


def _span(first: Reg, count: int) -> tuple[Reg, ...]:
    return tuple(Reg(first.index + i) for i in range(count))


@dataclass(frozen=True, slots=True)
class Instruction:
    """Base of every SIMT instruction; ``guard`` predicates execution per lane."""

    MNEMONIC: ClassVar[str] = ""
    guard: Pred | None = field(default=None, kw_only=True)

    @property
    def mnemonic(self) -> str:
        op = getattr(self, "op", None)
        return op.value if isinstance(op, Enum) else self.MNEMONIC

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.INT

    def srcs(self) -> tuple[Reg, ...]:
        """General registers read (every register of a multi-register operand)."""
        return ()

    def dsts(self) -> tuple[Reg, ...]:
        """General registers written."""
        return ()

    def pred_srcs(self) -> tuple[Pred, ...]:
        """Predicates read, the guard included."""
        return (self.guard,) if self.guard is not None else ()

    def pred_dsts(self) -> tuple[Pred, ...]:
        return ()


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
        return _regs(self.a, self.b)

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
        return _regs(self.a)

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
        return _regs(self.a, self.b, self.c)

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
        return _regs(self.a, self.b)

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
        return _regs(self.a, self.b)

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


class LdOp(Enum):
    GLOBAL = "ld.global"
    SHARED = "ld.shared"


class StOp(Enum):
    GLOBAL = "st.global"
    SHARED = "st.shared"


@dataclass(frozen=True, slots=True)
class Ld(Instruction):
    """Load ``width`` bits per lane from ``addr + offset`` (bytes) into d (d..d+3 for 128).
    16-bit loads zero-extend. ``cache`` applies to global loads (ca: L1+L2, cg: L2 only)."""

    op: LdOp
    d: Reg
    addr: Reg
    width: int = 32
    offset: int = 0
    cache: CacheOp = CacheOp.CA

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU

    def srcs(self) -> tuple[Reg, ...]:
        return (self.addr,)

    def dsts(self) -> tuple[Reg, ...]:
        return _span(self.d, regs_for_width(self.width))


@dataclass(frozen=True, slots=True)
class St(Instruction):
    """Store ``width`` bits per lane of a (a..a+3 for 128) to ``addr + offset``."""

    op: StOp
    a: Reg
    addr: Reg
    width: int = 32
    offset: int = 0

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU

    def srcs(self) -> tuple[Reg, ...]:
        return (self.addr, *_span(self.a, regs_for_width(self.width)))


@dataclass(frozen=True, slots=True)
class CpAsync(Instruction):
    """Asynchronous copy global -> shared of ``width`` bits per lane (PTX cp.async): the copy
    completes in the background; ``cp.async.commit_group`` closes a group and
    ``cp.async.wait_group n`` waits until at most n groups are still pending."""

    MNEMONIC: ClassVar[str] = "cp.async"
    dst: Reg
    src: Reg
    width: int = 128
    dst_offset: int = 0
    src_offset: int = 0
    cache: CacheOp = CacheOp.CG

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU

    def srcs(self) -> tuple[Reg, ...]:
        return (self.dst, self.src)


@dataclass(frozen=True, slots=True)
class CpAsyncCommit(Instruction):
    MNEMONIC: ClassVar[str] = "cp.async.commit_group"

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU


@dataclass(frozen=True, slots=True)
class CpAsyncWait(Instruction):
    """Wait until at most ``n`` committed cp.async groups of this warp are pending."""

    MNEMONIC: ClassVar[str] = "cp.async.wait_group"
    n: int = 0

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU


@dataclass(frozen=True, slots=True)
class BarSync(Instruction):
    """CTA-wide barrier (PTX bar.sync 0): every warp of the CTA waits until all have arrived;
    shared-memory writes before it are visible after it."""

    MNEMONIC: ClassVar[str] = "bar.sync"

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.BRANCH


class ShflOp(Enum):
    """Warp shuffles (PTX shfl.sync, full mask, width 32): idx reads lane b, up lane-b, down
    lane+b, bfly lane^b; a lane whose source is out of range keeps its own value."""

    IDX = "shfl.idx"
    UP = "shfl.up"
    DOWN = "shfl.down"
    BFLY = "shfl.bfly"


@dataclass(frozen=True, slots=True)
class Shfl(Instruction):
    op: ShflOp
    d: Reg
    a: Reg
    b: Reg | int

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU  # SHFL goes through the MIO/shared-memory crossbar

    def srcs(self) -> tuple[Reg, ...]:
        return _regs(self.a, self.b)

    def dsts(self) -> tuple[Reg, ...]:
        return (self.d,)


@dataclass(frozen=True, slots=True)
class Mma(Instruction):
    """Tensor-core ``D = A @ B + C`` of shape m16n8k16, fp16 inputs, fp32 accumulate, in PTX's
    register fragments (isa.simt.fragments): A = a..a+3 (f16x2), B = b, b+1 (f16x2),
    C = c..c+3 and D = d..d+3 (f32)."""

    MNEMONIC: ClassVar[str] = "mma.m16n8k16"
    d: Reg
    a: Reg
    b: Reg
    c: Reg

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.TENSOR

    def srcs(self) -> tuple[Reg, ...]:
        return (*_span(self.a, 4), *_span(self.b, 2), *_span(self.c, 4))

    def dsts(self) -> tuple[Reg, ...]:
        return _span(self.d, 4)


@dataclass(frozen=True, slots=True)
class Bra(Instruction):
    """Branch to ``target`` for the lanes whose guard holds. Divergent lanes reconverge where
    their program counters meet: the warp always runs the lowest pending PC (min-PC
    reconvergence), which rejoins if/else and loops laid out in program order."""

    MNEMONIC: ClassVar[str] = "bra"
    target: Label

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.BRANCH


@dataclass(frozen=True, slots=True)
class Exit(Instruction):
    """The lanes whose guard holds finish; the warp ends when all its lanes have."""

    MNEMONIC: ClassVar[str] = "exit"

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.BRANCH


INSTRUCTION_CLASSES: tuple[type[Instruction], ...] = (
    Binary, Unary, Fma, Sfu, Cvt, Setp, Selp, PredOp, MovSreg, LdParam, Ld, St, CpAsync,
    CpAsyncCommit, CpAsyncWait, BarSync, Shfl, Mma, Bra, Exit,
)
"""Every format; tests check the assembler, verifier and engine cover each."""
