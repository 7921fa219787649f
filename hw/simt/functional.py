"""What each SIMT instruction does to lane state, as NumPy: one executor factory per format.

`EXEC_RULES[format](instr, where)` (``where`` = ``program:line``, for messages) returns
``run(lanes, mask, ctx)`` where ``mask`` is the active lanes whose guard holds. Memory
executors return the byte addresses of those lanes (the engine prices them) and move data only
when ``ctx.data`` is set. Floating-point exceptions are silenced by the caller (np.errstate),
since GPU arithmetic does not trap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hw.simt.functional_memory import cp_async_rule, ld_rule, ldmatrix_rule, st_rule
from hw.simt.lanes import LANE_IDS, Lanes
from isa.simt import (
    BarSync,
    Binary,
    BinOp,
    Bra,
    CmpOp,
    CpAsync,
    CpAsyncCommit,
    CpAsyncWait,
    Cvt,
    DType,
    Exit,
    Fma,
    FmaOp,
    Ld,
    LdMatrix,
    LdParam,
    Mma,
    MovSreg,
    PredLogic,
    PredOp,
    Reg,
    Selp,
    Setp,
    Sfu,
    SfuOp,
    Shfl,
    ShflOp,
    SReg,
    St,
    Unary,
    UnOp,
)
from isa.simt.fragments import mma_m16n8k16


class ExecContext:
    """What executors see beyond the warp: memories, launch geometry and the clock."""

    __slots__ = ("gmem", "shared", "params", "ntid", "nctaid", "ctaid", "warpid", "now", "data")

    def __init__(self, gmem: np.ndarray, shared: np.ndarray, params: tuple[int, ...],
                 ntid: tuple[int, int, int], nctaid: tuple[int, int, int],
                 ctaid: tuple[int, int, int], data: bool) -> None:
        self.gmem = gmem
        self.shared = shared
        self.params = params
        self.ntid = ntid
        self.nctaid = nctaid
        self.ctaid = ctaid
        self.warpid = 0
        self.now = 0
        self.data = data


Executor = Callable[..., Any]  # (lanes or shadow lanes, mask, ctx) -> addresses or None
_VIEW = {DType.U32: np.uint32, DType.S32: np.int32, DType.F32: np.float32,
         DType.F16X2: np.float16}


def _const(value: int | float, dtype: DType) -> np.generic:
    if dtype is DType.F32:
        return np.float32(value)
    bits = np.uint32(int(value) & 0xFFFFFFFF)
    return bits.view(np.int32) if dtype is DType.S32 else bits


def _reader(operand: Reg | int | float, dtype: DType) -> Callable[[Lanes], Any]:
    view = _VIEW[dtype]
    if isinstance(operand, Reg):
        index = operand.index
        return lambda lanes: lanes.regs[index].view(view)
    constant = _const(operand, dtype)
    return lambda lanes: constant


def _writer(d: Reg, dtype: DType) -> Callable[[Lanes, np.ndarray, Any], None]:
    view, index = _VIEW[dtype], d.index
    if dtype is DType.F16X2:
        def write_halves(lanes: Lanes, mask: np.ndarray, value: Any) -> None:
            np.copyto(lanes.regs[index].view(view), value, where=np.repeat(mask, 2, axis=-1),
                      casting="unsafe")
        return write_halves

    def write(lanes: Lanes, mask: np.ndarray, value: Any) -> None:
        np.copyto(lanes.regs[index].view(view), value, where=mask, casting="unsafe")
    return write


def _int_div(a: np.ndarray, b: np.ndarray, rem: bool) -> np.ndarray:
    b_safe = np.where(b == 0, 1, b)
    quotient = np.fmod(a, b_safe) if rem else (
        np.trunc(a.astype(np.float64) / b_safe).astype(a.dtype) if a.dtype.kind == "i"
        else a // b_safe
    )
    return np.where(b == 0, np.array(-1).astype(a.dtype), quotient)


def _shift(a: np.ndarray, b: np.ndarray, left: bool) -> np.ndarray:
    amount = np.asarray(b).view(np.uint32) if np.asarray(b).dtype != np.uint32 else b
    amount = np.minimum(amount, 32).astype(a.dtype)
    if left:
        return np.where(amount >= 32, 0, a << (amount & 31)).astype(a.dtype)
    if a.dtype == np.int32:
        return a >> np.minimum(amount, 31)
    return np.where(amount >= 32, 0, a >> (amount & 31)).astype(a.dtype)


_BINARY: dict[BinOp, Callable[[Any, Any, bool], Any]] = {
    BinOp.ADD: lambda a, b, f: a + b,
    BinOp.SUB: lambda a, b, f: a - b,
    BinOp.MUL: lambda a, b, f: a * b,
    BinOp.MIN: lambda a, b, f: np.fmin(a, b) if f else np.minimum(a, b),
    BinOp.MAX: lambda a, b, f: np.fmax(a, b) if f else np.maximum(a, b),
    BinOp.DIV: lambda a, b, f: a / b if f else _int_div(np.asarray(a), np.asarray(b), False),
    BinOp.REM: lambda a, b, f: _int_div(np.asarray(a), np.asarray(b), True),
    BinOp.AND: lambda a, b, f: a & b,
    BinOp.OR: lambda a, b, f: a | b,
    BinOp.XOR: lambda a, b, f: a ^ b,
    BinOp.SHL: lambda a, b, f: _shift(np.asarray(a), b, True),
    BinOp.SHR: lambda a, b, f: _shift(np.asarray(a), b, False),
}


def _binary(instr: Binary, line: str) -> Executor:
    a, b = _reader(instr.a, instr.type), _reader(instr.b, instr.type)
    write, rule, is_float = _writer(instr.d, instr.type), _BINARY[instr.op], instr.type.is_float
    return lambda lanes, mask, ctx: write(lanes, mask, rule(a(lanes), b(lanes), is_float))


_UNARY: dict[UnOp, Callable[[Any], Any]] = {
    UnOp.MOV: lambda a: a, UnOp.NEG: lambda a: -a, UnOp.ABS: np.abs, UnOp.NOT: np.invert,
}


def _unary(instr: Unary, line: str) -> Executor:
    a, write, rule = _reader(instr.a, instr.type), _writer(instr.d, instr.type), _UNARY[instr.op]
    return lambda lanes, mask, ctx: write(lanes, mask, rule(a(lanes)))


def _fma(instr: Fma, line: str) -> Executor:
    a, b, c = (_reader(x, instr.type) for x in (instr.a, instr.b, instr.c))
    write = _writer(instr.d, instr.type)
    if instr.op is FmaOp.FMA and instr.type is DType.F32:
        # single rounding: the product and sum in float64 are exact enough for fp32 operands
        def fma(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
            exact = a(lanes).astype(np.float64) * b(lanes) + c(lanes)
            write(lanes, mask, exact.astype(np.float32))
        return fma
    return lambda lanes, mask, ctx: write(lanes, mask, a(lanes) * b(lanes) + c(lanes))


_SFU: dict[SfuOp, Callable[[np.ndarray], np.ndarray]] = {
    SfuOp.EX2: np.exp2, SfuOp.LG2: np.log2, SfuOp.EXP: np.exp, SfuOp.LOG: np.log,
    SfuOp.RCP: np.reciprocal, SfuOp.SQRT: np.sqrt, SfuOp.RSQRT: lambda x: 1 / np.sqrt(x),
    SfuOp.SIN: np.sin, SfuOp.COS: np.cos, SfuOp.TANH: np.tanh,
}


def _sfu(instr: Sfu, line: str) -> Executor:
    a, write, rule = _reader(instr.a, DType.F32), _writer(instr.d, DType.F32), _SFU[instr.op]
    return lambda lanes, mask, ctx: write(lanes, mask, rule(a(lanes)))


def _cvt_read(dtype: DType, index: int) -> Callable[[Lanes], np.ndarray]:
    if dtype is DType.F16:
        return lambda lanes: (lanes.regs[index] & 0xFFFF).astype(np.uint16).view(np.float16) \
            .astype(np.float32)
    view = _VIEW[dtype]
    return lambda lanes: lanes.regs[index].view(view)


def _cvt_value(value: np.ndarray, dst: DType) -> np.ndarray:
    if dst is DType.F32:
        return value.astype(np.float32)
    if dst is DType.F16:
        return value.astype(np.float16).view(np.uint16).astype(np.uint32)
    if value.dtype.kind == "f":  # cvt.rzi.sat: truncate, saturate, NaN -> 0
        low, high = (0, 2**32 - 1) if dst is DType.U32 else (-(2**31), 2**31 - 1)
        clean = np.nan_to_num(np.trunc(value.astype(np.float64)), nan=0.0)
        return np.clip(clean, low, high).astype(np.int64).astype(_VIEW[dst])
    return value.astype(_VIEW[dst])


def _cvt(instr: Cvt, line: str) -> Executor:
    read, dst, index = _cvt_read(instr.src, instr.a.index), instr.dst, instr.d.index

    def cvt(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        bits = _cvt_value(read(lanes), dst)
        np.copyto(lanes.regs[index], bits.view(np.uint32) if bits.dtype.itemsize == 4
                  else bits.astype(np.uint32), where=mask)
    return cvt


_CMP: dict[CmpOp, Callable[[Any, Any], np.ndarray]] = {
    CmpOp.EQ: np.equal, CmpOp.NE: np.not_equal, CmpOp.LT: np.less, CmpOp.LE: np.less_equal,
    CmpOp.GT: np.greater, CmpOp.GE: np.greater_equal,
}


def _setp(instr: Setp, line: str) -> Executor:
    a, b, rule, p = _reader(instr.a, instr.type), _reader(instr.b, instr.type), \
        _CMP[instr.cmp], instr.p.index

    def setp(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        np.copyto(lanes.preds[p], rule(a(lanes), b(lanes)), where=mask)
    return setp


def _selp(instr: Selp, line: str) -> Executor:
    a, b = _reader(instr.a, DType.U32), _reader(instr.b, DType.U32)
    p, neg, write = instr.p.index, instr.p.neg, _writer(instr.d, DType.U32)

    def selp(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        held = lanes.preds[p] != neg
        write(lanes, mask, np.where(held, a(lanes), b(lanes)))
    return selp


_PLOGIC: dict[PredLogic, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    PredLogic.AND: np.logical_and, PredLogic.OR: np.logical_or, PredLogic.XOR: np.logical_xor,
    PredLogic.NOT: lambda a, b: ~a,
}


def _pred_op(instr: PredOp, line: str) -> Executor:
    a, rule, d = instr.a, _PLOGIC[instr.op], instr.d.index
    b = instr.b if instr.b is not None else instr.a

    def pred_op(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        va = lanes.preds[a.index] != a.neg
        vb = lanes.preds[b.index] != b.neg
        np.copyto(lanes.preds[d], rule(va, vb), where=mask)
    return pred_op


_SREG: dict[SReg, Callable[[Lanes, ExecContext], Any]] = {
    SReg.TID_X: lambda lanes, ctx: lanes.tid[0], SReg.TID_Y: lambda lanes, ctx: lanes.tid[1],
    SReg.TID_Z: lambda lanes, ctx: lanes.tid[2],
    SReg.NTID_X: lambda lanes, ctx: ctx.ntid[0], SReg.NTID_Y: lambda lanes, ctx: ctx.ntid[1],
    SReg.NTID_Z: lambda lanes, ctx: ctx.ntid[2],
    SReg.CTAID_X: lambda lanes, ctx: ctx.ctaid[0], SReg.CTAID_Y: lambda lanes, ctx: ctx.ctaid[1],
    SReg.CTAID_Z: lambda lanes, ctx: ctx.ctaid[2],
    SReg.NCTAID_X: lambda lanes, ctx: ctx.nctaid[0],
    SReg.NCTAID_Y: lambda lanes, ctx: ctx.nctaid[1],
    SReg.NCTAID_Z: lambda lanes, ctx: ctx.nctaid[2],
    SReg.LANEID: lambda lanes, ctx: LANE_IDS, SReg.WARPID: lambda lanes, ctx: ctx.warpid,
    SReg.CLOCK: lambda lanes, ctx: ctx.now & 0xFFFFFFFF,
}


def _mov_sreg(instr: MovSreg, line: str) -> Executor:
    rule, d = _SREG[instr.s], instr.d.index

    def mov_sreg(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        np.copyto(lanes.regs[d], np.uint32(0) + np.asarray(rule(lanes, ctx), dtype=np.uint32),
                  where=mask)
    return mov_sreg


def _ld_param(instr: LdParam, line: str) -> Executor:
    index, d = instr.index, instr.d.index

    def ld_param(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        np.copyto(lanes.regs[d], np.uint32(ctx.params[index] & 0xFFFFFFFF), where=mask)
    return ld_param


_SHFL_SOURCE: dict[ShflOp, Callable[[np.ndarray], np.ndarray]] = {
    ShflOp.IDX: lambda b: b & 31,
    ShflOp.UP: lambda b: np.where(LANE_IDS >= b, LANE_IDS - b, LANE_IDS),
    ShflOp.DOWN: lambda b: np.where(LANE_IDS + b < 32, LANE_IDS + b, LANE_IDS),
    ShflOp.BFLY: lambda b: (LANE_IDS ^ b) & 31,
}


def _shfl(instr: Shfl, line: str) -> Executor:
    b, rule, a, d = _reader(instr.b, DType.U32), _SHFL_SOURCE[instr.op], instr.a.index, \
        instr.d.index

    def shfl(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        source = np.broadcast_to(rule(np.asarray(b(lanes), dtype=np.uint32)), (32,))
        np.copyto(lanes.regs[d], lanes.regs[a][..., source.astype(np.intp)], where=mask)
    return shfl


def _mma(instr: Mma, line: str) -> Executor:
    a, b, c, d = instr.a.index, instr.b.index, instr.c.index, instr.d.index

    def mma(lanes: Lanes, mask: np.ndarray, ctx: ExecContext) -> None:
        regs = lanes.regs
        regs[d:d + 4] = mma_m16n8k16(regs[a:a + 4], regs[b:b + 2], regs[c:c + 4])
    return mma


def _no_data(instr: Any, line: str) -> Executor:
    """Formats whose effect is on control or timing only (the engine handles them)."""
    return lambda lanes, mask, ctx: None


EXEC_RULES: dict[type, Callable[[Any, str], Executor]] = {
    Binary: _binary, Unary: _unary, Fma: _fma, Sfu: _sfu, Cvt: _cvt, Setp: _setp, Selp: _selp,
    PredOp: _pred_op, MovSreg: _mov_sreg, LdParam: _ld_param, Ld: ld_rule, St: st_rule,
    LdMatrix: ldmatrix_rule,
    CpAsync: cp_async_rule, CpAsyncCommit: _no_data, CpAsyncWait: _no_data, BarSync: _no_data,
    Shfl: _shfl, Mma: _mma, Bra: _no_data, Exit: _no_data,
}
"""Format -> executor factory; a test checks every format has one."""
