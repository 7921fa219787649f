"""Global and shared loads and stores, asynchronous global -> shared copies, the CTA barrier."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from isa.simt.base import FuncUnit, Instruction, reg_span
from isa.simt.types import CacheOp, Reg, regs_for_width


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
        return reg_span(self.d, regs_for_width(self.width))


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
        return (self.addr, *reg_span(self.a, regs_for_width(self.width)))


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


LDMATRIX_COUNTS = (1, 2, 4)
"""Matrices one ldmatrix loads (PTX .x1, .x2, .x4)."""


@dataclass(frozen=True, slots=True)
class LdMatrix(Instruction):
    """Warp-wide load of ``num`` 8 x 8 fp16 matrices from shared memory into mma fragments
    (PTX ldmatrix.sync.aligned.m8n8.x{num}.shared.b16). Lanes 8j..8j+7 give the addresses
    (``addr + offset``) of matrix j's 16-byte rows; register d+j of lane t receives row t // 4,
    elements 2 (t % 4) and 2 (t % 4) + 1 of matrix j, or with ``trans`` column t // 4, elements
    at rows 2 (t % 4) and 2 (t % 4) + 1 (a row-major B tile becomes a B fragment)."""

    MNEMONIC: ClassVar[str] = "ldmatrix"
    d: Reg
    addr: Reg
    num: int = 4
    trans: bool = False
    offset: int = 0

    @property
    def unit(self) -> FuncUnit:
        return FuncUnit.LSU

    def srcs(self) -> tuple[Reg, ...]:
        return (self.addr,)

    def dsts(self) -> tuple[Reg, ...]:
        return reg_span(self.d, self.num)
