"""Functional mode of the DaVinci core: what every instruction does to real bytes.

``execute(instr, mem, mask)`` performs one instruction on a ``CoreMemory`` (one uint8 array per
buffer plus the shared GM), dispatched through ``EXECUTE_RULES``, a table keyed by instruction
class with one small rule each (``functional_dma``, ``functional_cube``, ``functional_vector``).
Scalar-pipe and synchronisation instructions move no data: the engine applies their effect on
flags and on the mask (``MaskState``, captured per vector instruction at issue).
Out-of-bounds accesses raise ``hw.errors.SimulationError`` naming the instruction and region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hw.davinci.decode import MaskState, vector_repeats
from hw.davinci.functional_cube import exec_copy_l0c_to_ub, exec_fixpipe, exec_mmad
from hw.davinci.functional_dma import (
    exec_copy,
    exec_copy_gather,
    exec_copy_nd2nz,
    exec_img2col,
    exec_load2d,
)
from hw.davinci.functional_memory import CoreMemory
from hw.davinci.functional_vector import (
    exec_vbinary,
    exec_vconv,
    exec_vdup,
    exec_vreduce,
    exec_vscalar,
    exec_vunary,
)
from isa.davinci import (
    Barrier,
    Copy,
    CopyGather,
    CopyL0cToUb,
    CopyNd2Nz,
    CrossCoreSetFlag,
    CrossCoreWaitFlag,
    Fixpipe,
    Img2Col,
    Instruction,
    Load2D,
    Mmad,
    SetFlag,
    SetMask,
    SetMaskMode,
    VBinary,
    VConv,
    VDup,
    VReduce,
    VScalar,
    VUnary,
    WaitFlag,
)

Rule = Callable[[Any, CoreMemory, MaskState], None]


def _no_data(instr: Instruction, mem: CoreMemory, mask: MaskState) -> None:
    """Flags, barriers and mask set-up change engine state only, never buffer bytes."""


def _unmasked(rule: Callable[[Any, CoreMemory], None]) -> Rule:
    """Adapt a rule that ignores the vector mask (DMA, Cube, FixPipe) to the table's shape."""

    def run(instr: Any, mem: CoreMemory, mask: MaskState) -> None:
        rule(instr, mem)

    run.__doc__ = rule.__doc__
    return run


EXECUTE_RULES: dict[type[Instruction], Rule] = {
    Copy: _unmasked(exec_copy),
    CopyNd2Nz: _unmasked(exec_copy_nd2nz),
    CopyGather: _unmasked(exec_copy_gather),
    Load2D: _unmasked(exec_load2d),
    Img2Col: _unmasked(exec_img2col),
    CopyL0cToUb: _unmasked(exec_copy_l0c_to_ub),
    Fixpipe: _unmasked(exec_fixpipe),
    Mmad: _unmasked(exec_mmad),
    VBinary: exec_vbinary,
    VUnary: exec_vunary,
    VScalar: exec_vscalar,
    VDup: exec_vdup,
    VConv: exec_vconv,
    VReduce: exec_vreduce,
    SetFlag: _no_data,
    WaitFlag: _no_data,
    Barrier: _no_data,
    CrossCoreSetFlag: _no_data,
    CrossCoreWaitFlag: _no_data,
    SetMask: _no_data,
    SetMaskMode: _no_data,
}
"""Instruction class -> functional rule; a test checks every isa instruction class is here."""


def execute(instr: Instruction, mem: CoreMemory, mask: MaskState | None = None) -> None:
    """Perform ``instr``'s real work on ``mem``; ``mask`` is the vector mask in force when it
    issued (default: normal mode, every lane)."""
    rule = EXECUTE_RULES.get(type(instr))
    if rule is None:
        raise TypeError(f"no functional rule for {type(instr).__name__}")
    rule(instr, mem, mask if mask is not None else MaskState())


def execute_decoded(decoded: Any, mem: CoreMemory) -> None:
    """Engine hook: run a decoded instruction (``decode.Decoded``: ``.instr`` and ``.mask``)."""
    execute(decoded.instr, mem, decoded.mask)


def mask_after(mask: MaskState, instr: Instruction) -> MaskState:
    """The mask state after a scalar ``SetMask``/``SetMaskMode`` (unchanged by others)."""
    if isinstance(instr, SetMask):
        return MaskState(mask.counter, instr.hi, instr.lo)
    if isinstance(instr, SetMaskMode):
        return MaskState(instr.counter, mask.hi, mask.lo)
    return mask


__all__ = [
    "EXECUTE_RULES", "CoreMemory", "MaskState", "execute", "execute_decoded", "mask_after",
    "vector_repeats",
]
