"""The SIMT (PTX-like) warp instruction set: 32-lane registers and predicates, ALU/FMA/SFU,
conversions, global and shared memory, cp.async, barriers, shuffles, tensor-core mma, special
registers; programs with labels and a launch config; text assembly and a verifier."""

from isa.simt.asm import (
    format_instruction,
    format_kernel,
    load_kernel,
    mnemonic_table,
    parse_instruction,
    parse_kernel,
)
from isa.simt.instructions import (
    INSTRUCTION_CLASSES,
    BarSync,
    Binary,
    BinOp,
    Bra,
    CpAsync,
    CpAsyncCommit,
    CpAsyncWait,
    Cvt,
    Exit,
    Fma,
    FmaOp,
    FuncUnit,
    Instruction,
    Ld,
    LdMatrix,
    LdOp,
    LdParam,
    Mma,
    MovSreg,
    PredLogic,
    PredOp,
    Selp,
    Setp,
    Sfu,
    SfuOp,
    Shfl,
    ShflOp,
    St,
    StOp,
    Unary,
    UnOp,
)
from isa.simt.program import DATA_DTYPES, DataDecl, Kernel, Launch, Program
from isa.simt.types import LANES, CacheOp, CmpOp, DType, Label, Operand, Pred, Reg, SReg
from isa.simt.verify import Limits, kernel_problems, verify_kernel

__all__ = [
    "BarSync", "BinOp", "Binary", "Bra", "CacheOp", "CmpOp", "CpAsync", "CpAsyncCommit",
    "CpAsyncWait", "Cvt", "DATA_DTYPES", "DType", "DataDecl", "Exit", "Fma", "FmaOp", "FuncUnit",
    "INSTRUCTION_CLASSES", "Instruction", "Kernel", "LANES", "Label", "Launch", "Ld", "LdMatrix",
    "LdOp",
    "LdParam", "Limits", "Mma", "MovSreg", "Operand", "Pred", "PredLogic", "PredOp", "Program",
    "Reg", "SReg", "Selp", "Setp", "Sfu", "SfuOp", "Shfl", "ShflOp", "St", "StOp", "UnOp",
    "Unary", "format_instruction", "format_kernel", "kernel_problems", "load_kernel",
    "mnemonic_table", "parse_instruction", "parse_kernel", "verify_kernel",
]
