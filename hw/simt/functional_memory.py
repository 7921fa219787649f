"""Executors of loads, stores and cp.async: lane addresses (checked for alignment and bounds)
and, when the context moves data, gathers and scatters of 16/32/64/128-bit values."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hw.errors import SimulationError
from hw.simt.lanes import Lanes
from isa.simt import CpAsync, Ld, LdMatrix, LdOp, St, StOp
from isa.simt.types import regs_for_width

if TYPE_CHECKING:
    from hw.simt.functional import ExecContext, Executor


def _addresses(lanes: Lanes, mask: np.ndarray, reg: int, offset: int, size: int,
               memory: np.ndarray, where: str) -> np.ndarray:
    """Byte addresses of the lanes in ``mask``, checked for alignment and bounds."""
    addrs = lanes.regs[reg][..., mask].astype(np.int64) + offset
    if addrs.size:
        if int(np.bitwise_or.reduce(addrs)) & (size - 1):  # sizes are powers of two
            bad = int(addrs[(addrs % size) != 0][0])
            raise SimulationError(f"{where}: address {bad:#x} is not aligned to {size} B")
        if int(addrs.max()) + size > memory.size:
            raise SimulationError(f"{where}: address {int(addrs.max()):#x} + {size} B beyond "
                                  f"the {memory.size} B memory")
    return addrs


def shadow_addresses(regs: np.ndarray, mask: np.ndarray, offset: int, size: int,
                     limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(shadow index, byte address) of every shadow lane access in ``mask``; accesses a
    shadow would make out of range or misaligned are dropped (shadows only shape traffic)."""
    values = regs.astype(np.int64) + offset  # (shadows, 32)
    keep = mask & (values >= 0) & (values + size <= limit) & (values % size == 0)
    shadow, _ = np.nonzero(keep)
    return shadow, values[keep]


def _gather(memory: np.ndarray, addrs: np.ndarray, width: int) -> np.ndarray:
    """(words, lanes) uint32 values; 16-bit accesses zero-extend."""
    if width == 16:
        return memory.view(np.uint16)[addrs >> 1].astype(np.uint32)[None, :]
    words = regs_for_width(width)
    index = (addrs >> 2)[None, :] + np.arange(words)[:, None]
    return memory.view(np.uint32)[index]


def _scatter(memory: np.ndarray, addrs: np.ndarray, width: int, values: np.ndarray) -> None:
    if width == 16:
        memory.view(np.uint16)[addrs >> 1] = values[0].astype(np.uint16)
        return
    index = (addrs >> 2)[None, :] + np.arange(values.shape[0])[:, None]
    memory.view(np.uint32)[index] = values


def ld_rule(instr: Ld, line: str) -> Executor:
    reg, offset, width, d = instr.addr.index, instr.offset, instr.width, instr.d.index
    size, shared, words = max(2, width // 8), instr.op is LdOp.SHARED, regs_for_width(width)
    where = f"{line}: {instr.op.value}"

    def ld(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> np.ndarray:
        memory = ctx.shared if shared else ctx.gmem
        addrs = _addresses(lanes, mask, reg, offset, size, memory, where)
        if ctx.data:
            lanes.regs[d:d + words, mask] = _gather(memory, addrs, width)
        return addrs
    return ld


def st_rule(instr: St, line: str) -> Executor:
    reg, offset, width, a = instr.addr.index, instr.offset, instr.width, instr.a.index
    size, shared, words = max(2, width // 8), instr.op is StOp.SHARED, regs_for_width(width)
    where = f"{line}: {instr.op.value}"

    def st(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> np.ndarray:
        memory = ctx.shared if shared else ctx.gmem
        addrs = _addresses(lanes, mask, reg, offset, size, memory, where)
        if ctx.data:
            _scatter(memory, addrs, width, lanes.regs[a:a + words, mask])
        return addrs
    return st


def cp_async_rule(instr: CpAsync, line: str) -> Executor:
    size, width = instr.width // 8, instr.width
    where = f"{line}: cp.async"

    def cp_async(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> np.ndarray:
        src = _addresses(lanes, mask, instr.src.index, instr.src_offset, size, ctx.gmem, where)
        dst = _addresses(lanes, mask, instr.dst.index, instr.dst_offset, size, ctx.shared, where)
        if ctx.data:
            _scatter(ctx.shared, dst, width, _gather(ctx.gmem, src, width))
        return src
    return cp_async


def ldmatrix_rule(instr: LdMatrix, line: str) -> Executor:
    """ldmatrix: the row addresses of lanes 0 .. 8 num - 1, and the fragments they fill."""
    rows, d, num, trans = 8 * instr.num, instr.d.index, instr.num, instr.trans
    lane = np.arange(32)
    where = f"{line}: ldmatrix"

    def ldmatrix(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> np.ndarray:
        providers = np.zeros(32, dtype=bool)
        providers[:rows] = True
        addrs = _addresses(lanes, providers, instr.addr.index, instr.offset, 16, ctx.shared,
                           where)
        if ctx.data:
            halves = _gather(ctx.shared, addrs, 128).T.copy().view(np.uint16)  # (rows, 8)
            matrices = halves.reshape(num, 8, 8)
            values: np.ndarray
            if trans:
                low = matrices[:, 2 * (lane % 4), lane // 4].astype(np.uint32)
                high = matrices[:, 2 * (lane % 4) + 1, lane // 4].astype(np.uint32)
                values = low | (high << 16)
            else:
                values = matrices.view(np.uint32).reshape(num, 8, 4)[:, lane // 4, lane % 4]
            np.copyto(lanes.regs[d:d + num], values, where=mask)
        return addrs
    return ldmatrix
