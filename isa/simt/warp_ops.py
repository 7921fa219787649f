"""Warp-wide instructions: shuffles, tensor-core mma, branches and exit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from isa.simt.base import FuncUnit, Instruction, reg_span, regs_of
from isa.simt.types import Label, Reg


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
        return regs_of(self.a, self.b)

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
        return (*reg_span(self.a, 4), *reg_span(self.b, 2), *reg_span(self.c, 4))

    def dsts(self) -> tuple[Reg, ...]:
        return reg_span(self.d, 4)


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
