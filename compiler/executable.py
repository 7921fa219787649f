"""The Executable: what the compiler hands to the hardware layer (through archsim).

A sequence of kernel launches, each naming its target, its instruction program (an isa kernel),
the graph nodes fused into it and its analytic cost (FLOPs and the minimum bytes it must move
to and from global memory), plus the global-memory plan: where every tensor lives, in which
layout and dtype, and the device images of the constants (weights already in FRACTAL layouts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.memory_plan import MemoryPlan


@dataclass(frozen=True, slots=True)
class TensorPlacement:
    """A graph value in global memory: byte range, logical shape, device dtype and layout
    (a name understood by isa.davinci.layouts: nd, nz, zz, zn, nc1hwc0, nc1hwc0_s2d, fractal_z)."""

    name: str
    offset: int
    nbytes: int
    shape: tuple[int, ...]
    dtype: str
    layout: str


@dataclass(frozen=True)
class KernelLaunch:
    """One kernel: its program and where it came from.

    ``origin`` lists the graph nodes fused into it; ``layer`` is the name reports use (the
    anchor node); ``flops`` and ``min_bytes`` are analytic (every input read once, every
    output written once) so the kernel can be placed on a roofline. ``tiling`` explains the
    tiling choice in one or a few lines.
    """

    name: str
    target: str
    program: Any
    layer: str
    op: str
    origin: tuple[str, ...]
    flops: int
    min_bytes: int
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    tiling: str = ""


@dataclass(frozen=True)
class Executable:
    """A compiled graph for one target and chip."""

    name: str
    target: str
    hw: str
    kernels: tuple[KernelLaunch, ...]
    placements: Mapping[str, TensorPlacement]
    gm_bytes: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    memory: MemoryPlan | None = None  # the GM plan by liveness (None: bump-allocated)

    @property
    def flops(self) -> int:
        return sum(k.flops for k in self.kernels)

    @property
    def instruction_count(self) -> int:
        return sum(_instructions(k.program) for k in self.kernels)


def _instructions(program: Any) -> int:
    """Static instruction count of a DaVinci program or a SIMT kernel (its Program)."""
    counter = getattr(program, "instruction_count", None)
    return counter() if counter is not None else len(program.program)
