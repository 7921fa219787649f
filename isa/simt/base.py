"""The base of every SIMT instruction and the function units that execute them.

Each instruction executes for the warp's active lanes whose guard predicate holds (``@p1`` /
``@!p1`` in assembly, field ``guard``). Every format states the function unit that executes it
(`FuncUnit`, the pipes of facts/gpu.md §9.4) and the registers and predicates it reads and
writes, which the scoreboard, the verifier and a compiler's scheduler use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from isa.simt.types import Pred, Reg


class FuncUnit(Enum):
    """Function-unit pipes of a sub-core (Accel-Sim's SP/INT/SFU/TENSOR/LDST/BRA classes)."""

    INT = "int"
    FP32 = "fp32"
    FP16 = "fp16"
    SFU = "sfu"
    TENSOR = "tensor"
    LSU = "lsu"
    BRANCH = "branch"


def regs_of(*operands: object) -> tuple[Reg, ...]:
    return tuple(o for o in operands if isinstance(o, Reg))


def reg_span(first: Reg, count: int) -> tuple[Reg, ...]:
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
