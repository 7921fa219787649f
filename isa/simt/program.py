"""SIMT programs (one instruction stream run by every warp), launch configs and kernels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod

import numpy as np

from isa.simt.instructions import Instruction
from isa.simt.types import LANES, DType

DATA_DTYPES: Mapping[DType, np.dtype] = {
    DType.F16: np.dtype(np.float16),
    DType.F32: np.dtype(np.float32),
    DType.S32: np.dtype(np.int32),
    DType.U32: np.dtype(np.uint32),
}
"""Element types a data declaration may use, with their NumPy dtype."""


@dataclass(frozen=True, slots=True)
class Launch:
    """Grid and block shape (x, y, z) and the kernel parameters ``ld.param`` reads (buffer
    addresses in global memory, sizes, strides; 32-bit each)."""

    grid: tuple[int, int, int] = (1, 1, 1)
    block: tuple[int, int, int] = (LANES, 1, 1)
    params: tuple[int, ...] = ()

    @property
    def threads_per_cta(self) -> int:
        return prod(self.block)

    @property
    def warps_per_cta(self) -> int:
        return -(-self.threads_per_cta // LANES)

    @property
    def ctas(self) -> int:
        return prod(self.grid)


@dataclass(frozen=True, slots=True)
class Program:
    """The instruction stream every warp runs, with its labels (name -> instruction index),
    registers per thread and static shared memory per CTA (bytes)."""

    name: str
    instructions: tuple[Instruction, ...]
    labels: Mapping[str, int] = field(default_factory=dict)
    regs: int = 32
    shared_bytes: int = 0
    # Source lines are not part of the program: a printed and re-parsed program is equal.
    lines: tuple[int, ...] = field(default=(), compare=False)

    def line(self, index: int) -> int:
        """Source line of instruction ``index`` (its 1-based position for generated code)."""
        return self.lines[index] if self.lines else index + 1

    def __len__(self) -> int:
        return len(self.instructions)


@dataclass(frozen=True, slots=True)
class DataDecl:
    """A named tensor in global memory at byte address ``addr``, written before the run
    (``.input``, init random/zeros/ones/arange) or read back after it (``.output``)."""

    name: str
    addr: int
    dtype: DType
    shape: tuple[int, ...]
    init: str = "random"

    @property
    def nbytes(self) -> int:
        return prod(self.shape) * DATA_DTYPES[self.dtype].itemsize if self.dtype in DATA_DTYPES \
            else 0


@dataclass(frozen=True, slots=True)
class Kernel:
    """A program with its launch and, for hand-written examples, data declarations and checks
    (``name = numpy expression`` strings over the declared names)."""

    program: Program
    launch: Launch = Launch()
    inputs: tuple[DataDecl, ...] = ()
    outputs: tuple[DataDecl, ...] = ()
    checks: tuple[str, ...] = ()
    tolerance: float = 1e-2
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.program.name
