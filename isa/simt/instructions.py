"""SIMT warp instructions: one frozen dataclass per format, enum opcodes, typed operands.

The formats live in `isa.simt.alu`, `isa.simt.memory_ops` and `isa.simt.warp_ops` on the
common base `isa.simt.base.Instruction`; this module gathers them.
"""

from __future__ import annotations

from isa.simt.alu import (
    BITWISE_OPS,
    Binary,
    BinOp,
    Cvt,
    Fma,
    FmaOp,
    LdParam,
    MovSreg,
    PredLogic,
    PredOp,
    Selp,
    Setp,
    Sfu,
    SfuOp,
    Unary,
    UnOp,
)
from isa.simt.base import FuncUnit, Instruction
from isa.simt.memory_ops import (
    BarSync,
    CpAsync,
    CpAsyncCommit,
    CpAsyncWait,
    Ld,
    LdMatrix,
    LdOp,
    St,
    StOp,
)
from isa.simt.warp_ops import Bra, Exit, Mma, Shfl, ShflOp

INSTRUCTION_CLASSES: tuple[type[Instruction], ...] = (
    Binary, Unary, Fma, Sfu, Cvt, Setp, Selp, PredOp, MovSreg, LdParam, Ld, St, LdMatrix,
    CpAsync, CpAsyncCommit, CpAsyncWait, BarSync, Shfl, Mma, Bra, Exit,
)
"""Every format; tests check the assembler, verifier and engine cover each."""

__all__ = [
    "BITWISE_OPS", "BarSync", "BinOp", "Binary", "Bra", "CpAsync", "CpAsyncCommit",
    "CpAsyncWait", "Cvt", "Exit", "Fma", "FmaOp", "FuncUnit", "INSTRUCTION_CLASSES",
    "Instruction", "Ld", "LdMatrix", "LdOp", "LdParam", "Mma", "MovSreg", "PredLogic", "PredOp",
    "Selp",
    "Setp", "Sfu", "SfuOp", "Shfl", "ShflOp", "St", "StOp", "UnOp", "Unary",
]
