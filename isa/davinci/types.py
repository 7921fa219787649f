"""Basic vocabulary of the DaVinci ISA: pipes, buffer spaces, data types, addresses and regions.

Names follow the CCE intrinsics summarised in shared/facts/davinci.md §4 and §8: PIPE_S,
PIPE_V, PIPE_M, PIPE_MTE1/2/3 and PIPE_FIX (910B FixPipe); buffers GM, L1 (cbuf), L0A (ca),
L0B (cb), L0C (cc), UB (ubuf), BT (bias table) and FB (fixpipe buffer).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np

BLOCK_BYTES = 32  # one vector DataBlock / DMA burst unit [ASC-HIDIM] facts §1.2, §3.3
REPEAT_BYTES = 256  # one vector repeat = 8 blocks [ASC-CONST ONE_REPEAT_BYTE_SIZE] facts §1.2
BLOCKS_PER_REPEAT = REPEAT_BYTES // BLOCK_BYTES
FRACTAL_BYTES = 512  # one L0A/L0B fractal: 16 rows x 32 B [ASC-FMT] facts §5
FRACTAL_ROWS = 16  # M0 = N0 = 16 [ASC-FMT] facts §5


class Pipe(IntEnum):
    """An execution pipe of an AI Core. ALL is only valid as a barrier target."""

    S = 0
    V = 1
    M = 2
    MTE1 = 3
    MTE2 = 4
    MTE3 = 5
    FIX = 6
    ALL = 7


EXEC_PIPES: tuple[Pipe, ...] = (Pipe.V, Pipe.M, Pipe.MTE1, Pipe.MTE2, Pipe.MTE3, Pipe.FIX)
"""Pipes that own an instruction queue (S executes in place at issue)."""


class Space(IntEnum):
    """A memory space. GM is global; every other space is private to one core."""

    GM = 0
    L1 = 1
    L0A = 2
    L0B = 3
    L0C = 4
    UB = 5
    BT = 6
    FB = 7


class DType(Enum):
    """Element types the ISA moves and computes on; the value is (name, itemsize in bytes)."""

    FP16 = ("fp16", 2)
    BF16 = ("bf16", 2)
    FP32 = ("fp32", 4)
    INT8 = ("int8", 1)
    UINT8 = ("uint8", 1)
    INT16 = ("int16", 2)
    INT32 = ("int32", 4)

    @property
    def text(self) -> str:
        return self.value[0]

    @property
    def itemsize(self) -> int:
        return self.value[1]

    @property
    def np_dtype(self) -> np.dtype:
        """The NumPy storage type; bf16 is stored as raw uint16 bit patterns."""
        return np.dtype(_NP_NAMES[self])

    @property
    def is_float(self) -> bool:
        return self in (DType.FP16, DType.BF16, DType.FP32)

    @classmethod
    def from_text(cls, text: str) -> DType:
        for member in cls:
            if member.text == text:
                return member
        raise ValueError(f"unknown dtype {text!r} (known: {', '.join(m.text for m in cls)})")


_NP_NAMES = {
    DType.FP16: "float16",
    DType.BF16: "uint16",
    DType.FP32: "float32",
    DType.INT8: "int8",
    DType.UINT8: "uint8",
    DType.INT16: "int16",
    DType.INT32: "int32",
}


@dataclass(frozen=True, slots=True)
class Addr:
    """A byte address in one memory space, printed as ``L1[0x400]``."""

    space: Space
    offset: int

    def __str__(self) -> str:
        return f"{self.space.name}[{self.offset:#x}]"

    def __add__(self, nbytes: int) -> Addr:
        return Addr(self.space, self.offset + nbytes)


@dataclass(frozen=True, slots=True)
class Region:
    """The half-open byte range [start, stop) of one memory space touched by an instruction."""

    space: Space
    start: int
    stop: int

    @property
    def nbytes(self) -> int:
        return self.stop - self.start

    def overlaps(self, other: Region) -> bool:
        return self.space == other.space and self.start < other.stop and other.start < self.stop

    def __str__(self) -> str:
        return f"{self.space.name}[{self.start:#x}:{self.stop:#x}]"


def region(addr: Addr, nbytes: int) -> Region:
    """The region of ``nbytes`` starting at ``addr``."""
    return Region(addr.space, addr.offset, addr.offset + nbytes)


def strided_extent(blk_stride: int, rep_stride: int, repeat: int, blocks: int = BLOCKS_PER_REPEAT,
                   block_bytes: int = BLOCK_BYTES) -> int:
    """Bytes from the first to one past the last byte touched by a strided vector operand.

    Strides count 32 B blocks (facts §1.2). The extent is a conservative bounding range, used for
    capacity checks and race detection.
    """
    if repeat <= 0:
        return 0
    last_block = (repeat - 1) * rep_stride + (blocks - 1) * blk_stride
    return last_block * BLOCK_BYTES + block_bytes
