"""The DaVinci AI Core instruction set: instructions as frozen dataclasses with their pipe and
the regions they read and write, kernels of per-core streams, text assembly and a verifier."""

from isa.davinci.asm import (
    format_instruction,
    format_kernel,
    load_kernel,
    mnemonic_table,
    parse_instruction,
    parse_kernel,
)
from isa.davinci.base import Instruction
from isa.davinci.cube import Mmad
from isa.davinci.dma import (
    COPY_PATHS,
    Copy,
    CopyGather,
    CopyL0cToUb,
    CopyNd2Nz,
    Fixpipe,
    Img2Col,
    Load2D,
)
from isa.davinci.program import DataDecl, Kernel, Stream
from isa.davinci.sync import (
    Barrier,
    CrossCoreSetFlag,
    CrossCoreWaitFlag,
    SetFlag,
    SetMask,
    SetMaskMode,
    Unit,
    WaitFlag,
)
from isa.davinci.types import EXEC_PIPES, Addr, DType, Pipe, Region, Space
from isa.davinci.vector import (
    VBinary,
    VBinOp,
    VConv,
    VDup,
    VectorInstruction,
    VReduce,
    VReduceOp,
    VScalar,
    VScalarOp,
    VUnary,
    VUnOp,
)
from isa.davinci.verify import HwConfig, kernel_problems, verify_kernel

INSTRUCTION_CLASSES: tuple[type[Instruction], ...] = (
    Copy, CopyNd2Nz, CopyGather, Load2D, Img2Col, CopyL0cToUb, Fixpipe, Mmad,
    VBinary, VUnary, VScalar, VDup, VConv, VReduce,
    SetFlag, WaitFlag, Barrier, CrossCoreSetFlag, CrossCoreWaitFlag, SetMask, SetMaskMode,
)
"""Every instruction format; a test checks the assembler, verifier and engine cover each."""

__all__ = [
    "Addr", "Barrier", "COPY_PATHS", "Copy", "CopyGather", "CopyL0cToUb", "CopyNd2Nz",
    "CrossCoreSetFlag", "CrossCoreWaitFlag", "DType", "DataDecl", "EXEC_PIPES", "Fixpipe",
    "INSTRUCTION_CLASSES", "Img2Col", "Instruction", "Kernel", "Load2D", "Mmad", "Pipe", "Region",
    "SetFlag", "SetMask", "SetMaskMode", "Space", "Stream", "Unit", "VBinOp", "VBinary", "VConv",
    "VDup", "VReduce", "VReduceOp", "VScalar", "VScalarOp", "VUnOp", "VUnary", "VectorInstruction",
    "WaitFlag", "format_instruction", "format_kernel", "load_kernel", "mnemonic_table",
    "parse_instruction", "parse_kernel", "HwConfig", "kernel_problems", "verify_kernel",
]
