"""Static decode of an instruction stream into timing records, and the cost rules.

Everything about an instruction's cost that does not depend on run-time state is computed once
here, in program order (the vector mask is scalar state set in program order, so counter-mode
repeat counts are known statically too). The engine adds the dynamic parts: whether a pipe was
idle (the Cube/Vector head), flag waits, queue stalls and HBM contention.

Cost rules (facts/davinci.md):
- Cube: ``head`` (only when the M pipe was idle) + one cycle per 16 x 16 x K0 fractal step, two
  for fp32 inputs [PTO cce_costmodel_cube, §1.1].
- Vector: ``startup`` (only when the V pipe was idle, as PTO charges heads) + ``slope x
  repeats`` from the preset's per-op table [PTO cce_cycle_profiles, §1.2], at least one cycle.
- DMA: fixed latency + ceil(bytes / bandwidth of the path) [ASC-CUBEPERF, PTO, §3.2]; GM
  transfers also share the chip's HBM bandwidth with every other core (see engine).
- img2col: the L1->L0 bandwidth when stride_w == 1, else floor(512 / (2 * stride_w + 1)) B/cycle
  (the one-row load3dv2 figure, §3.2; an estimate for other row counts).
- Flags cost ``flag_cycles``; ``barrier`` on a busy pipe costs ``barrier_drain_cycles`` [PTO
  sync model, §4].
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from hw.cache import burst_lines
from isa.davinci import (
    Barrier,
    Copy,
    CopyGather,
    CopyL0cToUb,
    CopyNd2Nz,
    CrossCoreSetFlag,
    CrossCoreWaitFlag,
    DType,
    Fixpipe,
    Img2Col,
    Instruction,
    Load2D,
    Mmad,
    Pipe,
    Region,
    SetFlag,
    SetMask,
    SetMaskMode,
    Space,
    VConv,
    VectorInstruction,
    WaitFlag,
)
from isa.davinci.sync import FULL_MASK
from isa.davinci.types import REPEAT_BYTES


class Kind(IntEnum):
    """How the engine treats a decoded instruction."""

    WORK = 0  # occupies its pipe for its cost
    SET_FLAG = 1
    WAIT_FLAG = 2
    BARRIER = 3  # barrier on one pipe
    BARRIER_ALL = 4  # stops issue until every pipe drains
    SCALAR = 5  # executes in the scalar unit at issue (mask set-up)
    CROSS_SET = 6
    CROSS_WAIT = 7


@dataclass(frozen=True, slots=True)
class MaskState:
    """The vector mask as the scalar unit holds it when a vector instruction issues."""

    counter: bool = False
    hi: int = FULL_MASK
    lo: int = FULL_MASK


@dataclass(frozen=True, slots=True)
class Decoded:
    """One instruction with its static timing: ``cycles`` is the cost on an already-busy pipe,
    ``head_cycles`` is added when the pipe was idle, ``latency_cycles`` is a fixed DMA latency
    and ``gm_bytes`` are bytes that cross the shared HBM (contention is added at run time)."""

    instr: Instruction
    kind: Kind
    pipe: Pipe
    cycles: int
    head_cycles: int = 0
    latency_cycles: int = 0
    gm_bytes: int = 0
    mask: MaskState | None = None
    flag: tuple[int, ...] = ()
    path: str = ""
    path_bytes: int = 0
    reads: tuple[Region, ...] = ()
    writes: tuple[Region, ...] = ()
    flops: int = 0
    gm_lines: Any = None  # L2 line indices the GM side touches, in order (numpy int64)
    gm_write: bool = False


def executes_at_issue(d: Decoded) -> bool:
    """Whether the scalar unit executes ``d`` as it issues (mask set-up, ``barrier ALL``, a
    cross-core wait on S) instead of queueing it for a pipe."""
    return d.kind is Kind.SCALAR or d.kind is Kind.BARRIER_ALL or (
        d.kind is Kind.CROSS_WAIT and d.pipe is Pipe.S)


def tally_bytes(d: Decoded, n: int, by_path: Any, read: Any, written: Any) -> None:
    """Add ``n`` executions of the work instruction ``d`` to the byte counters (Counters keyed
    by path "src->dst" and by level): its path when it is a transfer, else its regions."""
    if d.path:
        src, dst = d.path.split("->")
        by_path[d.path] += n * d.path_bytes
        read[src] += n * d.path_bytes
        written[dst] += n * d.path_bytes
    else:
        for region in d.reads:
            read[region.space.name.lower()] += n * region.nbytes
        for region in d.writes:
            written[region.space.name.lower()] += n * region.nbytes


def vector_repeats(instr: VectorInstruction, mask: MaskState) -> int:
    """Repeats a vector instruction really runs: ``repeat`` in normal mode, or enough repeats
    for ``mask.lo`` elements in counter mode."""
    if mask.counter:
        lanes = REPEAT_BYTES // instr.element_bytes
        return -(-mask.lo // lanes)
    return instr.repeat  # type: ignore[attr-defined,no-any-return]


def _bandwidth(cfg, src: str, dst: str) -> float:
    # not memoised on cfg: hashing a pydantic config costs ~30x the lookup itself
    return float(cfg.path_bytes_per_cycle(src, dst))


def _space(space: Space) -> str:
    return space.name.lower()


def _dma(cfg, instr: Instruction, src: Space, dst: Space, nbytes: int,
         gm_bursts: tuple[int, int, int, int] | None = None) -> Decoded:
    """A transfer of ``nbytes``; ``gm_bursts`` = (start, count, bytes, pitch) on the GM side
    (default: one contiguous burst at the GM region)."""
    bandwidth = _bandwidth(cfg, _space(src), _space(dst))
    touches_gm = Space.GM in (src, dst)
    latency = cfg.gm_latency_cycles if touches_gm else cfg.local_latency_cycles
    lines = None
    if touches_gm:
        if gm_bursts is None:
            region = (instr.writes() if dst is Space.GM else instr.reads())[0]
            gm_bursts = (region.start, 1, region.nbytes, region.nbytes)
        lines = burst_lines(*gm_bursts, cfg.l2_line_bytes)
    return Decoded(
        instr, Kind.WORK, instr.pipe, math.ceil(nbytes / bandwidth),
        latency_cycles=latency, gm_bytes=nbytes if touches_gm else 0,
        path=f"{_space(src)}->{_space(dst)}", path_bytes=nbytes,
        reads=instr.reads(), writes=instr.writes(), gm_lines=lines, gm_write=dst is Space.GM,
    )


def _copy(cfg, instr: Copy, mask: MaskState) -> Decoded:
    bursts = None
    burst = instr.burst_len * 32
    if instr.src.space is Space.GM:
        bursts = (instr.src.offset, instr.n_burst, burst, burst + instr.src_gap * 32)
    elif instr.dst.space is Space.GM:
        bursts = (instr.dst.offset, instr.n_burst, burst, burst + instr.dst_gap * 32)
    return _dma(cfg, instr, instr.src.space, instr.dst.space, instr.nbytes, bursts)


def _nd2nz(cfg, instr: CopyNd2Nz, mask: MaskState) -> Decoded:
    size = instr.dtype.itemsize
    bursts = (instr.src.offset, instr.rows, instr.cols * size, instr.src_row_stride * size)
    return _dma(cfg, instr, Space.GM, Space.L1, instr.nbytes, bursts)


def _gather(cfg, instr: CopyGather, mask: MaskState) -> Decoded:
    # Timing mode has no index values: the L2 sees the first `rows` rows of the table (an
    # approximation), and the scalar unit spends one issue slot per row forming addresses.
    bursts = (instr.src.offset, instr.rows, instr.row_bytes, instr.src_pitch)
    decoded = _dma(cfg, instr, Space.GM, Space.UB, instr.nbytes, bursts)
    return dataclasses.replace(decoded, cycles=decoded.cycles
                               + instr.rows * cfg.scalar_issue_cycles)


def _load2d(cfg, instr: Load2D, mask: MaskState) -> Decoded:
    return _dma(cfg, instr, Space.L1, instr.dst.space, instr.nbytes)


def _img2col(cfg, instr: Img2Col, mask: MaskState) -> Decoded:
    dst = _space(instr.dst.space)
    bandwidth = _bandwidth(cfg, "l1", dst)
    if instr.stride_w > 1:
        bandwidth = min(bandwidth, max(32, 512 // (2 * instr.stride_w + 1)))
    return Decoded(
        instr, Kind.WORK, Pipe.MTE1, math.ceil(instr.nbytes / bandwidth),
        latency_cycles=cfg.local_latency_cycles, path=f"l1->{dst}", path_bytes=instr.nbytes,
        reads=instr.reads(), writes=instr.writes(),
    )


def _l0c_to_ub(cfg, instr: CopyL0cToUb, mask: MaskState) -> Decoded:
    return _dma(cfg, instr, Space.L0C, Space.UB, instr.nbytes)


def _fixpipe(cfg, instr: Fixpipe, mask: MaskState) -> Decoded:
    # FixPipe bandwidths are quoted in output elements (64 fp16 per cycle = 128 B/cycle,
    # facts §1.4), so the transfer is counted in the bytes written.
    size = instr.dst_dtype.itemsize
    if not instr.nz2nd:
        return _dma(cfg, instr, Space.L0C, instr.dst.space, instr.writes()[0].nbytes)
    bursts = (instr.dst.offset, instr.m, instr.n * size, instr.dst_row_stride * size)
    return _dma(cfg, instr, Space.L0C, instr.dst.space, instr.m * instr.n * size, bursts)


def _mmad(cfg, instr: Mmad, mask: MaskState) -> Decoded:
    per_step = cfg.cube_fp32_cycles_per_step if instr.dtype is DType.FP32 else 1
    return Decoded(
        instr, Kind.WORK, Pipe.M, instr.fractal_steps * per_step,
        head_cycles=cfg.cube_head_cycles, reads=instr.reads(), writes=instr.writes(),
        flops=instr.flops,
    )


def _vector(cfg, instr: VectorInstruction, mask: MaskState) -> Decoded:
    repeats = vector_repeats(instr, mask)
    b32 = instr.element_bytes == 4
    op = "vconv" if isinstance(instr, VConv) else instr.mnemonic
    startup, slope = cfg.vector_cost(op, b32)
    busy = max(1, math.ceil(slope * repeats))
    head = max(0, math.ceil(startup + slope * repeats) - busy)
    # In counter mode the hardware runs `repeats`, whatever the repeat field says.
    effective = instr if repeats == instr.repeat else dataclasses.replace(instr, repeat=repeats)
    return Decoded(
        instr, Kind.WORK, Pipe.V, busy, head_cycles=head, mask=mask,
        reads=effective.reads(), writes=effective.writes(),
        flops=repeats * REPEAT_BYTES // instr.element_bytes,
    )


def _set_flag(cfg, instr: SetFlag, mask: MaskState) -> Decoded:
    flag = (int(instr.src), int(instr.dst), instr.event)
    return Decoded(instr, Kind.SET_FLAG, instr.src, cfg.flag_cycles, flag=flag)


def _wait_flag(cfg, instr: WaitFlag, mask: MaskState) -> Decoded:
    flag = (int(instr.src), int(instr.dst), instr.event)
    return Decoded(instr, Kind.WAIT_FLAG, instr.dst, cfg.flag_cycles, flag=flag)


def _barrier(cfg, instr: Barrier, mask: MaskState) -> Decoded:
    if instr.target is Pipe.ALL:
        return Decoded(instr, Kind.BARRIER_ALL, Pipe.S, cfg.scalar_issue_cycles)
    return Decoded(instr, Kind.BARRIER, instr.target, cfg.barrier_drain_cycles)


def _cross_set(cfg, instr: CrossCoreSetFlag, mask: MaskState) -> Decoded:
    flag = (instr.flag,)
    return Decoded(instr, Kind.CROSS_SET, instr.src, cfg.flag_cycles, flag=flag)


def _cross_wait(cfg, instr: CrossCoreWaitFlag, mask: MaskState) -> Decoded:
    flag = (instr.flag,)
    return Decoded(instr, Kind.CROSS_WAIT, instr.dst, cfg.flag_cycles, flag=flag)


def _scalar(cfg, instr: Instruction, mask: MaskState) -> Decoded:
    return Decoded(instr, Kind.SCALAR, Pipe.S, cfg.scalar_issue_cycles)


DECODE_RULES: dict[type, Callable[..., Decoded]] = {
    Copy: _copy,
    CopyNd2Nz: _nd2nz,
    CopyGather: _gather,
    Load2D: _load2d,
    Img2Col: _img2col,
    CopyL0cToUb: _l0c_to_ub,
    Fixpipe: _fixpipe,
    Mmad: _mmad,
    SetFlag: _set_flag,
    WaitFlag: _wait_flag,
    Barrier: _barrier,
    CrossCoreSetFlag: _cross_set,
    CrossCoreWaitFlag: _cross_wait,
    SetMask: _scalar,
    SetMaskMode: _scalar,
}
"""Cost rule per instruction class (vector classes share `_vector`)."""


def decode_stream(instructions: Sequence[Instruction], cfg, seen: dict | None = None
                  ) -> tuple[Decoded, ...]:
    """Decode a stream in program order, tracking the vector mask the scalar unit holds.

    Identical instructions under the same mask share one record (loops repeat a few shapes,
    and the cores of a kernel mostly differ only in their GM addresses): ``seen`` holds the
    records already made, and may be shared by streams decoded for the same ``cfg``. It is
    keyed by ``(instruction, mask)`` and, first, by ``id(instruction)`` (builders share
    instruction objects between cores, and an identity lookup is far cheaper than hashing an
    instruction; the entry keeps the instruction alive, so its id is not reused).
    """
    mask = MaskState()
    out = []
    if seen is None:
        seen = {}
    for instr in instructions:
        cls = type(instr)  # exact types: isinstance on the ABC-based classes is slow here
        if cls is SetMask:
            mask = MaskState(mask.counter, instr.hi, instr.lo)
        elif cls is SetMaskMode:
            mask = MaskState(instr.counter, mask.hi, mask.lo)
        same = seen.get(id(instr))
        if same is not None and (same[1] is mask or same[1] == mask):
            out.append(same[2])
            continue
        key = (instr, mask)
        decoded = seen.get(key)
        if decoded is None:
            rule = DECODE_RULES.get(cls) or (_vector if issubclass(cls, VectorInstruction)
                                             else None)
            if rule is None:
                raise TypeError(f"no decode rule for {cls.__name__}")
            decoded = seen[key] = rule(cfg, instr, mask)
        seen[id(instr)] = (instr, mask, decoded)
        out.append(decoded)
    return tuple(out)
