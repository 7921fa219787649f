"""The instruction base class shared by every DaVinci instruction format."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from isa.davinci.types import Pipe, Region


@dataclass(frozen=True, slots=True)
class Instruction(ABC):
    """One DaVinci instruction: immutable data with a pipe and the buffer regions it touches.

    Subclasses are frozen dataclasses whose fields are the instruction's operands, in the order
    the assembly prints them. ``reads()`` and ``writes()`` return conservative byte regions; the
    engine uses them for race detection and the compiler for automatic flag insertion.
    """

    MNEMONIC: ClassVar[str] = ""

    @property
    def mnemonic(self) -> str:
        return self.MNEMONIC

    @property
    @abstractmethod
    def pipe(self) -> Pipe:
        """The pipe whose queue the instruction enters (S: executes at issue)."""

    def reads(self) -> tuple[Region, ...]:
        return ()

    def writes(self) -> tuple[Region, ...]:
        return ()
