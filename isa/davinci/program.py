"""Kernels: one instruction stream per unit of each core (SPMD over ``block_dim`` cores),
plus the data declarations that hand-written examples use to set up inputs and check outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from isa.davinci.base import Instruction
from isa.davinci.types import Addr, DType

COUPLED_UNITS = ("core",)
SEPARATED_UNITS = ("aic", "aiv0", "aiv1")


@dataclass(frozen=True, slots=True)
class Stream:
    """The in-order instruction stream of one unit, with the source line of each instruction
    (assembly line numbers, or 1-based positions for generated code) for error messages."""

    instructions: tuple[Instruction, ...]
    # Source positions are not part of the program: streams compare by their instructions,
    # so a kernel printed and parsed again equals the original.
    lines: tuple[int, ...] = field(default=(), compare=False)
    # Streams of one kernel with the same non-None ``shape`` do the same work on other GM
    # addresses (same flags, same overlaps between their accesses), so the engine's race
    # check of one of them stands for all (set by the compiler; None checks every stream).
    shape: int | None = field(default=None, compare=False)

    def line(self, index: int) -> int:
        return self.lines[index] if self.lines else index + 1

    def __len__(self) -> int:
        return len(self.instructions)


@dataclass(frozen=True, slots=True)
class DataDecl:
    """A named tensor placed in a buffer before the run (``.input``) or read back after it
    (``.output``). ``layout`` names a transform from isa.davinci.layouts applied to the logical
    array (nd, nz, zz, zn, nc1hwc0, fractal_z); ``init`` is random, zeros, ones or arange."""

    name: str
    addr: Addr
    dtype: DType
    shape: tuple[int, ...]
    layout: str = "nd"
    init: str = "random"
    core: int = 0


@dataclass(frozen=True, slots=True)
class Kernel:
    """A kernel launch: ``cores[i]`` maps unit name -> Stream for core i.

    Coupled chips have one unit per core ("core"); separated chips have "aic", "aiv0" and
    "aiv1" (any may be absent). ``inputs``, ``outputs`` and ``checks`` (``name = numpy
    expression`` strings) are optional metadata used by hand-written examples.
    """

    name: str
    cores: tuple[dict[str, Stream], ...]
    inputs: tuple[DataDecl, ...] = ()
    outputs: tuple[DataDecl, ...] = ()
    checks: tuple[str, ...] = ()
    tolerance: float = 1e-2
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def block_dim(self) -> int:
        return len(self.cores)

    @property
    def separated(self) -> bool:
        return any(unit in SEPARATED_UNITS for core in self.cores for unit in core)

    def instruction_count(self) -> int:
        return sum(len(stream) for core in self.cores for stream in core.values())
