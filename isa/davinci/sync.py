"""Scalar-pipe instructions: flags, barriers, cross-core flags and the vector mask
(facts §4; CCE ``set_flag``/``wait_flag``/``pipe_barrier``/``set_vector_mask``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from isa.davinci.base import Instruction
from isa.davinci.types import Pipe


@dataclass(frozen=True, slots=True)
class SetFlag(Instruction):
    """Enters ``src``'s queue; once every earlier ``src`` instruction has completed it sets
    flag (src, dst, event). Setting a flag that is already set is an error."""

    MNEMONIC = "set_flag"
    src: Pipe
    dst: Pipe
    event: int

    @property
    def pipe(self) -> Pipe:
        return self.src


@dataclass(frozen=True, slots=True)
class WaitFlag(Instruction):
    """Enters ``dst``'s queue and blocks that pipe until flag (src, dst, event) is set, then
    clears it."""

    MNEMONIC = "wait_flag"
    src: Pipe
    dst: Pipe
    event: int

    @property
    def pipe(self) -> Pipe:
        return self.dst


@dataclass(frozen=True, slots=True)
class Barrier(Instruction):
    """``pipe_barrier(target)``: later ``target`` instructions start only after every earlier
    one has completed. ``barrier ALL`` stops issue until every pipe has drained."""

    MNEMONIC = "barrier"
    target: Pipe

    @property
    def pipe(self) -> Pipe:
        return Pipe.S if self.target is Pipe.ALL else self.target


class Unit(Enum):
    """A unit of a separated (910B-style) core: the cube core and its two vector cores."""

    AIC = "aic"
    AIV0 = "aiv0"
    AIV1 = "aiv1"


@dataclass(frozen=True, slots=True)
class CrossCoreSetFlag(Instruction):
    """Separated cores: once earlier ``src`` work has completed, increment counter ``flag`` of
    ``target`` (another unit of the same core). CCE ``ffts_cross_core_sync`` mode 2, facts §4."""

    MNEMONIC = "cross_set_flag"
    src: Pipe
    target: Unit
    flag: int

    @property
    def pipe(self) -> Pipe:
        return self.src


@dataclass(frozen=True, slots=True)
class CrossCoreWaitFlag(Instruction):
    """Separated cores: block ``dst`` until this unit's counter ``flag`` is non-zero, then
    decrement it (CCE ``wait_flag_dev``)."""

    MNEMONIC = "cross_wait_flag"
    dst: Pipe
    flag: int

    @property
    def pipe(self) -> Pipe:
        return self.dst


@dataclass(frozen=True, slots=True)
class SetMask(Instruction):
    """``set_vector_mask(hi, lo)``: in normal mode lane e of a repeat is active when bit e of
    (hi:lo) is set (64 lanes use ``lo`` only; the 256 lanes of 8-bit types, unsourced, are
    modelled with bit e covering lanes 2e and 2e+1); in counter mode ``lo`` is the element
    count."""

    MNEMONIC = "set_mask"
    hi: int
    lo: int

    @property
    def pipe(self) -> Pipe:
        return Pipe.S


@dataclass(frozen=True, slots=True)
class SetMaskMode(Instruction):
    """``set_mask_norm`` (counter=false) or ``set_mask_count`` (counter=true)."""

    MNEMONIC = "set_mask_mode"
    counter: bool

    @property
    def pipe(self) -> Pipe:
        return Pipe.S


FULL_MASK = (1 << 64) - 1
