"""The Cube instruction: ``mmad`` on fractal operands in L0A/L0B accumulating into L0C."""

from __future__ import annotations

from dataclasses import dataclass

from isa.davinci.base import Instruction
from isa.davinci.types import (
    BLOCK_BYTES,
    FRACTAL_BYTES,
    FRACTAL_ROWS,
    Addr,
    DType,
    Pipe,
    Region,
    region,
)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class Mmad(Instruction):
    """C (+)= A . B on the Cube (CCE ``mad``, facts §1.1).

    A is ``m x k`` in L0A as FRACTAL_ZZ (M1, K1, 16, K0); B is ``k x n`` in L0B as FRACTAL_ZN
    (K1, N1, 16, K0: each fractal holds 16 columns of K0 values); C is ``m x n`` in L0C as
    FRACTAL_NZ (N1, M1, 16, 16) in fp32 (int32 for int8 inputs). K0 = 32 B / itemsize. With
    ``init`` C is overwritten, otherwise accumulated. Sizes are padded to whole fractals, so the
    Cube runs ceil(m/16) * ceil(k/K0) * ceil(n/16) fractal steps and writes every C fractal;
    A columns and B rows past ``k`` (the last K fractal's padding) are treated as zero.
    """

    MNEMONIC = "mmad"
    dst: Addr
    a: Addr
    b: Addr
    m: int
    k: int
    n: int
    dtype: DType = DType.FP16
    init: bool = True

    @property
    def pipe(self) -> Pipe:
        return Pipe.M

    @property
    def k0(self) -> int:
        return BLOCK_BYTES // self.dtype.itemsize

    @property
    def acc_dtype(self) -> DType:
        return DType.INT32 if self.dtype in (DType.INT8, DType.UINT8) else DType.FP32

    @property
    def m1(self) -> int:
        return _ceil_div(self.m, FRACTAL_ROWS)

    @property
    def k1(self) -> int:
        return _ceil_div(self.k, self.k0)

    @property
    def n1(self) -> int:
        return _ceil_div(self.n, FRACTAL_ROWS)

    @property
    def fractal_steps(self) -> int:
        return self.m1 * self.k1 * self.n1

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n

    @property
    def c_bytes(self) -> int:
        return self.n1 * self.m1 * 256 * self.acc_dtype.itemsize

    def reads(self) -> tuple[Region, ...]:
        operands = (
            region(self.a, self.m1 * self.k1 * FRACTAL_BYTES),
            region(self.b, self.k1 * self.n1 * FRACTAL_BYTES),
        )
        return operands if self.init else operands + (region(self.dst, self.c_bytes),)

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, self.c_bytes),)
