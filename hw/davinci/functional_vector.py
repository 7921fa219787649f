"""Functional semantics of the vector instructions: repeat, block stride, repeat stride and the
mask (isa ``vector`` and ``sync.SetMask`` docstrings, facts §1.2 [ASC-HIDIM]).

Lane ``e`` of repeat ``r`` of an operand with ``itemsize``-byte elements lives at byte
``(r * rep_stride + (e * itemsize // 32) * blk_stride) * 32 + (e * itemsize) % 32`` from the
operand's base. All lanes are gathered with one fancy index (offsets cached per stride set),
computed at once, and only the active lanes are scattered back: masked-off lanes of the
destination keep their bytes.

Mask: in normal mode bit ``e`` of (hi:lo) activates lane ``e`` of every repeat (64-lane, i.e.
32-bit, types use ``lo`` only; 256-lane 8-bit types have bit ``e`` cover lanes 2e and 2e+1); in
counter mode the first ``lo`` elements are active over ``ceil(lo / lanes)`` repeats and
``repeat`` is ignored.

Arithmetic follows ``functional_numerics``: fp16/bf16 are computed in float32 and rounded once
to the stored type (an approximation of the fp16 datapath, within 1 ulp for the basic ops);
integer results saturate; integer ``vdiv`` truncates toward zero and gives 0 for a zero divisor;
``vand``/``vor``/``vnot`` act on the raw bits of any type.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from hw.davinci.decode import MaskState, vector_repeats
from hw.davinci.functional_memory import CoreMemory
from hw.davinci.functional_numerics import decode, encode, scalar_value, unsigned_view
from hw.errors import SimulationError
from isa.davinci import (
    Addr,
    DType,
    VBinary,
    VBinOp,
    VConv,
    VDup,
    VectorInstruction,
    VReduce,
    VReduceOp,
    VScalar,
    VScalarOp,
    VUnary,
    VUnOp,
)
from isa.davinci.types import BLOCK_BYTES

_WORD = (1 << 64) - 1


@lru_cache(maxsize=256)
def lane_indices(itemsize: int, lanes: int, blk_stride: int, rep_stride: int,
                 repeats: int) -> np.ndarray:
    """Element indices (repeats, lanes), relative to the operand base, of every lane."""
    lane_bytes = np.arange(lanes) * itemsize
    block, within = lane_bytes // BLOCK_BYTES, lane_bytes % BLOCK_BYTES
    blocks = np.arange(repeats)[:, None] * rep_stride + block[None, :] * blk_stride
    indices = (blocks * BLOCK_BYTES + within[None, :]) // itemsize
    indices.flags.writeable = False
    return indices


@lru_cache(maxsize=256)
def active_lanes(mask: MaskState, lanes: int, repeats: int) -> np.ndarray:
    """Boolean (repeats, lanes): which lanes ``mask`` enables."""
    if mask.counter:
        active = (np.arange(repeats * lanes) < mask.lo).reshape(repeats, lanes)
    else:
        bits = ((mask.hi & _WORD) << 64) | (mask.lo & _WORD)
        raw = np.frombuffer(bits.to_bytes(16, "little"), dtype=np.uint8)
        per_bit = np.unpackbits(raw, bitorder="little").astype(bool)  # 128 lanes
        row = np.repeat(per_bit, 2) if lanes > per_bit.size else per_bit[:lanes]
        active = np.broadcast_to(row, (repeats, lanes)).copy()
    active.flags.writeable = False
    return active


def _operand(mem: CoreMemory, instr: VectorInstruction, addr: Addr, dtype: DType,
             blk_stride: int, rep_stride: int, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """(typed view of the operand's span, lane indices into it)."""
    idx = lane_indices(dtype.itemsize, instr.lanes, blk_stride, rep_stride, repeats)
    view = mem.view(addr.space, addr.offset, dtype, int(idx.max()) + 1, instr)
    return view, idx


def _float_only(instr: VectorInstruction, dtype: DType) -> None:
    if not dtype.is_float:
        raise SimulationError(f"{instr.mnemonic}: needs a float dtype, got {dtype.text}")


# --- per-op rules (values are decoded: float32 or int64) -----------------------------------

def _div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return x / y
    safe = np.where(y == 0, 1, y)
    quotient = np.abs(x) // np.abs(safe) * np.sign(x) * np.sign(safe)
    return np.where(y == 0, 0, quotient)


BINARY_RULES: dict[VBinOp, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    VBinOp.ADD: np.add,
    VBinOp.SUB: np.subtract,
    VBinOp.MUL: np.multiply,
    VBinOp.DIV: _div,
    VBinOp.MAX: np.maximum,
    VBinOp.MIN: np.minimum,
    VBinOp.AND: np.bitwise_and,  # applied to raw bits, see exec_vbinary
    VBinOp.OR: np.bitwise_or,
}
_BITWISE = (VBinOp.AND, VBinOp.OR)

UNARY_RULES: dict[VUnOp, Callable[[np.ndarray], np.ndarray]] = {
    VUnOp.EXP: np.exp,
    VUnOp.LN: np.log,
    VUnOp.SQRT: np.sqrt,
    VUnOp.RSQRT: lambda x: 1 / np.sqrt(x),
    VUnOp.REC: lambda x: 1 / x,
    VUnOp.ABS: np.abs,
    VUnOp.RELU: lambda x: np.maximum(x, 0),
    VUnOp.NOT: np.invert,  # applied to raw bits, see exec_vunary
}
_FLOAT_UNARY = (VUnOp.EXP, VUnOp.LN, VUnOp.SQRT, VUnOp.RSQRT, VUnOp.REC)

SCALAR_RULES: dict[VScalarOp, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    VScalarOp.ADDS: np.add,
    VScalarOp.MULS: np.multiply,
    VScalarOp.MAXS: np.maximum,
    VScalarOp.MINS: np.minimum,
    VScalarOp.LRELU: lambda x, s: np.where(x > 0, x, x * s),
}

# (reduce function, identity for masked lanes given the value dtype)
REDUCE_RULES: dict[VReduceOp, tuple[Callable[..., np.ndarray], Callable[[np.dtype], object]]] = {
    VReduceOp.SUM: (np.sum, lambda dt: 0),
    VReduceOp.MAX: (np.max, lambda dt: -np.inf if dt.kind == "f" else np.iinfo(dt).min),
    VReduceOp.MIN: (np.min, lambda dt: np.inf if dt.kind == "f" else np.iinfo(dt).max),
}


# --- instruction rules ---------------------------------------------------------------------

def _scatter(view: np.ndarray, idx: np.ndarray, active: np.ndarray, stored: np.ndarray) -> None:
    view[idx[active]] = stored[active]


def exec_vbinary(instr: VBinary, mem: CoreMemory, mask: MaskState) -> None:
    """dst = src0 op src1 on the active lanes."""
    reps = vector_repeats(instr, mask)
    if reps <= 0:
        return
    dt = instr.dtype
    v0, i0 = _operand(mem, instr, instr.src0, dt, instr.src0_blk_stride, instr.src0_rep_stride,
                      reps)
    v1, i1 = _operand(mem, instr, instr.src1, dt, instr.src1_blk_stride, instr.src1_rep_stride,
                      reps)
    a, b = v0[i0], v1[i1]
    rule = BINARY_RULES[instr.op]
    if instr.op in _BITWISE:
        out = rule(unsigned_view(a), unsigned_view(b)).view(a.dtype)
    else:
        with np.errstate(all="ignore"):
            out = encode(rule(decode(a, dt), decode(b, dt)), dt)
    vd, idd = _operand(mem, instr, instr.dst, dt, instr.dst_blk_stride, instr.dst_rep_stride, reps)
    _scatter(vd, idd, active_lanes(mask, instr.lanes, reps), out)


def exec_vunary(instr: VUnary, mem: CoreMemory, mask: MaskState) -> None:
    """dst = op(src) on the active lanes."""
    reps = vector_repeats(instr, mask)
    if reps <= 0:
        return
    dt = instr.dtype
    if instr.op in _FLOAT_UNARY:
        _float_only(instr, dt)
    vs, i_s = _operand(mem, instr, instr.src, dt, instr.src_blk_stride, instr.src_rep_stride,
                       reps)
    x = vs[i_s]
    rule = UNARY_RULES[instr.op]
    if instr.op is VUnOp.NOT:
        out = rule(unsigned_view(x)).view(x.dtype)
    else:
        with np.errstate(all="ignore"):
            out = encode(rule(decode(x, dt)), dt)
    vd, idd = _operand(mem, instr, instr.dst, dt, instr.dst_blk_stride, instr.dst_rep_stride, reps)
    _scatter(vd, idd, active_lanes(mask, instr.lanes, reps), out)


def exec_vscalar(instr: VScalar, mem: CoreMemory, mask: MaskState) -> None:
    """dst = src op scalar on the active lanes (the scalar first rounded to the dtype)."""
    reps = vector_repeats(instr, mask)
    if reps <= 0:
        return
    dt = instr.dtype
    vs, i_s = _operand(mem, instr, instr.src, dt, instr.src_blk_stride, instr.src_rep_stride,
                       reps)
    with np.errstate(all="ignore"):
        out = encode(SCALAR_RULES[instr.op](decode(vs[i_s], dt), scalar_value(instr.scalar, dt)),
                     dt)
    vd, idd = _operand(mem, instr, instr.dst, dt, instr.dst_blk_stride, instr.dst_rep_stride, reps)
    _scatter(vd, idd, active_lanes(mask, instr.lanes, reps), out)


def exec_vdup(instr: VDup, mem: CoreMemory, mask: MaskState) -> None:
    """The active lanes of every repeat take ``scalar``."""
    reps = vector_repeats(instr, mask)
    if reps <= 0:
        return
    dt = instr.dtype
    vd, idd = _operand(mem, instr, instr.dst, dt, instr.dst_blk_stride, instr.dst_rep_stride, reps)
    out = np.broadcast_to(encode(np.array([instr.scalar]), dt), idd.shape)
    _scatter(vd, idd, active_lanes(mask, instr.lanes, reps), out)


def exec_vconv(instr: VConv, mem: CoreMemory, mask: MaskState) -> None:
    """Element-wise ``src_dtype`` -> ``dst_dtype``; lanes per repeat follow the wider type."""
    reps = vector_repeats(instr, mask)
    if reps <= 0:
        return
    vs, i_s = _operand(mem, instr, instr.src, instr.src_dtype, instr.src_blk_stride,
                       instr.src_rep_stride, reps)
    out = encode(decode(vs[i_s], instr.src_dtype), instr.dst_dtype)
    vd, idd = _operand(mem, instr, instr.dst, instr.dst_dtype, instr.dst_blk_stride,
                       instr.dst_rep_stride, reps)
    _scatter(vd, idd, active_lanes(mask, instr.lanes, reps), out)


def exec_vreduce(instr: VReduce, mem: CoreMemory, mask: MaskState) -> None:
    """Each repeat's active lanes reduce to one element at ``dst + r * dst_rep_stride``
    elements; a repeat with no active lane leaves its destination element unchanged."""
    reps = vector_repeats(instr, mask)
    if reps <= 0:
        return
    dt = instr.dtype
    vs, i_s = _operand(mem, instr, instr.src, dt, instr.src_blk_stride, instr.src_rep_stride,
                       reps)
    values = decode(vs[i_s], dt)
    active = active_lanes(mask, instr.lanes, reps)
    reduce, identity = REDUCE_RULES[instr.op]
    masked = np.where(active, values, np.asarray(identity(values.dtype), dtype=values.dtype))
    with np.errstate(all="ignore"):  # inf - inf is NaN, as in the hardware's IEEE arithmetic
        out = encode(reduce(masked, axis=1), dt)
    dst_idx = np.arange(reps) * instr.dst_rep_stride
    vd = mem.view(instr.dst.space, instr.dst.offset, dt, int(dst_idx[-1]) + 1, instr)
    rows = active.any(axis=1)
    vd[dst_idx[rows]] = out[rows]
