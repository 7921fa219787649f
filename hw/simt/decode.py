"""Decode a program once into flat `Op` records the engine's inner loop reads.

Timing mode skips the data work that cannot change timing. `control_slice` finds it: starting
from what timing depends on (addresses of memory accesses, guards of memory and control
instructions, branch and exit predicates), it walks writers back to their sources until
nothing changes. If a load feeds that slice (a pointer chase), memory contents matter and
every load and store keeps its data. An instruction outside the slice is timed but not
executed, so timing mode and functional mode issue the same instructions at the same cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hw.simt.config import GpuConfig
from hw.simt.functional import EXEC_RULES, Executor
from isa.simt import (
    BarSync,
    Bra,
    CacheOp,
    CpAsync,
    CpAsyncCommit,
    CpAsyncWait,
    Exit,
    FuncUnit,
    Instruction,
    Ld,
    LdMatrix,
    LdOp,
    Mma,
    Program,
    Shfl,
    St,
    StOp,
    format_instruction,
)

UNITS: tuple[FuncUnit, ...] = tuple(FuncUnit)
"""Pipe order of per-sub-core pipe arrays."""


class Kind(IntEnum):
    """How the engine treats an op."""

    ALU = 0
    LD_GLOBAL = 1
    LD_SHARED = 2
    ST_GLOBAL = 3
    ST_SHARED = 4
    CP_ASYNC = 5
    COMMIT = 6
    WAIT = 7
    BAR = 8
    BRA = 9
    EXIT = 10


def _kind(instr: Instruction) -> Kind:
    if isinstance(instr, Ld):
        return Kind.LD_SHARED if instr.op is LdOp.SHARED else Kind.LD_GLOBAL
    if isinstance(instr, LdMatrix):
        return Kind.LD_SHARED
    if isinstance(instr, St):
        return Kind.ST_SHARED if instr.op is StOp.SHARED else Kind.ST_GLOBAL
    simple = {CpAsync: Kind.CP_ASYNC, CpAsyncCommit: Kind.COMMIT, CpAsyncWait: Kind.WAIT,
              BarSync: Kind.BAR, Bra: Kind.BRA, Exit: Kind.EXIT}
    return simple.get(type(instr), Kind.ALU)


@dataclass(frozen=True, slots=True)
class Op:
    """One decoded instruction: pipe index and costs, operand register numbers, kind, its
    executor and whether timing mode must run it (``needed``)."""

    index: int
    line: int
    name: str
    text: str
    kind: Kind
    unit: int
    latency: int
    ii: int
    srcs: tuple[int, ...]
    dsts: tuple[int, ...]
    psrcs: tuple[int, ...]
    pdsts: tuple[int, ...]
    guard: int  # predicate index or -1
    guard_neg: bool
    target: int  # see _target
    width_bytes: int  # bytes per lane of a memory access
    flops: int  # per active lane (fma 2, mma 4096 per warp handled by the engine)
    is_mma: bool
    execute: Executor
    needed: bool
    in_slice: bool  # an ALU op timing depends on (shadow CTAs run these)
    row_lanes: int  # ldmatrix: the lanes that give row addresses (8 per matrix), else 0
    addr_reg: int  # global accesses: the address register (cp.async: the source) and offset
    addr_offset: int


def _address_regs(instr: Instruction) -> tuple[int, ...]:
    if isinstance(instr, Ld | St | LdMatrix):
        return (instr.addr.index,)
    if isinstance(instr, CpAsync):
        return (instr.dst.index, instr.src.index)
    return ()


def control_slice(program: Program) -> tuple[set[int], set[int], bool]:
    """(registers, predicates, memory-data-matters) that timing depends on."""
    regs: set[int] = set()
    preds: set[int] = set()
    memory = False
    for instr in program.instructions:
        regs.update(_address_regs(instr))
        if _kind(instr) is not Kind.ALU or isinstance(instr, Shfl):
            preds.update(p.index for p in instr.pred_srcs())
    changed = True
    while changed:
        changed = False
        for instr in program.instructions:
            writes = {r.index for r in instr.dsts()} & regs or \
                {p.index for p in instr.pred_dsts()} & preds
            if not writes:
                continue
            if isinstance(instr, Ld | LdMatrix) and not memory:
                memory, changed = True, True
            new_regs = {r.index for r in instr.srcs()} - regs
            new_preds = {p.index for p in instr.pred_srcs()} - preds
            if new_regs or new_preds:
                regs |= new_regs
                preds |= new_preds
                changed = True
        if memory:  # stored values may come back through loads: keep every store's data
            for instr in program.instructions:
                if isinstance(instr, St):
                    new = {r.index for r in instr.srcs()} - regs
                    if new:
                        regs |= new
                        changed = True
    return regs, preds, memory


def _target(instr: Instruction, program: Program) -> int:
    """Branch target index; for global loads and cp.async 0 = through L1 (ca), 1 = L2 only
    (cg); for cp.async.wait_group its n."""
    if isinstance(instr, Bra):
        return program.labels[instr.target]
    if isinstance(instr, Ld | CpAsync):
        return 0 if instr.cache is CacheOp.CA else 1
    if isinstance(instr, CpAsyncWait):
        return instr.n
    return -1


def _global_address(instr: Instruction) -> tuple[int, int]:
    if isinstance(instr, Ld | St) and instr.op in (LdOp.GLOBAL, StOp.GLOBAL):
        return instr.addr.index, instr.offset
    if isinstance(instr, CpAsync):
        return instr.src.index, instr.src_offset
    return -1, 0


def _width_bytes(instr: Instruction) -> int:
    if isinstance(instr, LdMatrix):
        return 16  # each providing lane reads one 16-byte row
    width = getattr(instr, "width", 0)
    return max(2, width // 8) if width else 0


def _flops(instr: Instruction) -> int:
    from isa.simt import Fma, FmaOp

    if isinstance(instr, Fma) and instr.op is FmaOp.FMA:
        return 4 if instr.type.value == "f16x2" else 2
    return 0


def decode(program: Program, config: GpuConfig, functional: bool) -> tuple[tuple[Op, ...], bool]:
    """The program's ops and whether loads/stores must move data (always in functional mode)."""
    regs, preds, memory = control_slice(program)
    ops = []
    for index, instr in enumerate(program.instructions):
        kind = _kind(instr)
        pipe = config.pipe(instr.unit)
        writes_needed = bool({r.index for r in instr.dsts()} & regs) or bool(
            {p.index for p in instr.pred_dsts()} & preds)
        needed = functional or kind is not Kind.ALU or writes_needed
        addr_reg, addr_offset = _global_address(instr)
        guard = instr.guard
        target = _target(instr, program)
        ops.append(Op(
            index=index, line=program.line(index), name=instr.mnemonic,
            text=format_instruction(instr), kind=kind, unit=UNITS.index(instr.unit),
            latency=pipe.latency_cycles, ii=pipe.ii_cycles,
            srcs=tuple(sorted({r.index for r in instr.srcs()})),
            dsts=tuple(r.index for r in instr.dsts()),
            psrcs=tuple(sorted({p.index for p in instr.pred_srcs()})),
            pdsts=tuple(p.index for p in instr.pred_dsts()),
            guard=guard.index if guard is not None else -1,
            guard_neg=guard.neg if guard is not None else False,
            target=target, width_bytes=_width_bytes(instr), flops=_flops(instr),
            is_mma=isinstance(instr, Mma),
            execute=EXEC_RULES[type(instr)](instr, f"{program.name}:{program.line(index)}"),
            needed=needed, in_slice=writes_needed and kind is Kind.ALU and not isinstance(
                instr, Mma), addr_reg=addr_reg, addr_offset=addr_offset,
            row_lanes=8 * instr.num if isinstance(instr, LdMatrix) else 0,
        ))
    return tuple(ops), functional or memory
