"""Functional semantics of the vector instructions: masks in both modes, block and repeat
strides, every op class, checked against element-by-element NumPy."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hw.davinci.functional import CoreMemory, MaskState, execute, vector_repeats
from hw.davinci.functional_numerics import bf16_to_float32, float32_to_bf16
from hw.errors import SimulationError
from isa.davinci import (
    Addr,
    DType,
    Space,
    VBinary,
    VBinOp,
    VConv,
    VDup,
    VReduce,
    VReduceOp,
    VScalar,
    VScalarOp,
    VUnary,
    VUnOp,
)

CFG = SimpleNamespace(l1_bytes=1024, l0a_bytes=1024, l0b_bytes=1024, l0c_bytes=1024,
                      ub_bytes=1 << 16, bt_bytes=0, fb_bytes=0)
RNG = np.random.default_rng(3)
UB = Space.UB
FULL = MaskState()
SRC0, SRC1, DST = 0x0000, 0x4000, 0x8000


def _mem() -> CoreMemory:
    return CoreMemory(CFG, np.zeros(64, dtype=np.uint8))


def _fill(mem: CoreMemory, offset: int, dtype: str, count: int, scale: float = 10) -> np.ndarray:
    values = (RNG.standard_normal(count) * scale).astype(dtype)
    mem.view(UB, offset, dtype, count)[:] = values
    return values


def _sentinel(mem: CoreMemory, offset: int, dtype: str, count: int) -> np.ndarray:
    mem.view(UB, offset, dtype, count)[:] = np.array(-7, dtype=dtype)
    return mem.read(UB, offset, dtype, (count,))


def _lanes(mask: int, lanes: int) -> np.ndarray:
    return np.array([(mask >> e) & 1 for e in range(lanes)], dtype=bool)


def test_vadd_normal_mask_leaves_masked_lanes_unchanged() -> None:
    mem = _mem()
    a, b = _fill(mem, SRC0, "float16", 256), _fill(mem, SRC1, "float16", 256)
    dst = _sentinel(mem, DST, "float16", 256)
    hi, lo = 0xF0F0_0000_0000_0001, (1 << 63) | 0b1011
    execute(VBinary(VBinOp.ADD, DType.FP16, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC1),
                    repeat=2), mem, MaskState(False, hi, lo))
    active = np.tile(_lanes((hi << 64) | lo, 128), 2)
    expect = np.where(active, (a.astype(np.float32) + b).astype(np.float16), dst)
    assert np.array_equal(mem.read(UB, DST, "float16", (256,)), expect)


def test_fp32_mask_uses_lo_only() -> None:
    mem = _mem()
    a, b = _fill(mem, SRC0, "float32", 64), _fill(mem, SRC1, "float32", 64)
    dst = _sentinel(mem, DST, "float32", 128)
    lo = 0xFFFF_0000_0000_00FF
    execute(VBinary(VBinOp.MUL, DType.FP32, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC1)),
            mem, MaskState(False, (1 << 64) - 1, lo))
    got = mem.read(UB, DST, "float32", (128,))
    assert np.array_equal(got[:64], np.where(_lanes(lo, 64), a * b, dst[:64]))
    assert np.array_equal(got[64:], dst[64:])  # one repeat of fp32 is 64 lanes


def test_counter_mode_covers_count_elements_with_a_masked_tail() -> None:
    mem = _mem()
    a, b = _fill(mem, SRC0, "float16", 384), _fill(mem, SRC1, "float16", 384)
    dst = _sentinel(mem, DST, "float16", 384)
    instr = VBinary(VBinOp.SUB, DType.FP16, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC1),
                    repeat=1)  # repeat is ignored in counter mode
    mask = MaskState(True, 0, 300)
    assert vector_repeats(instr, mask) == 3
    execute(instr, mem, mask)
    got = mem.read(UB, DST, "float16", (384,))
    assert np.array_equal(got[:300], (a[:300].astype(np.float32) - b[:300]).astype(np.float16))
    assert np.array_equal(got[300:], dst[300:])


def test_block_stride_two_and_repeat_stride_zero() -> None:
    mem = _mem()
    a = _fill(mem, SRC0, "float16", 1024)
    b = _fill(mem, SRC1, "float16", 128)
    execute(VBinary(VBinOp.MAX, DType.FP16, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC1),
                    repeat=2, src0_blk_stride=2, src0_rep_stride=16, src1_rep_stride=0), mem)
    blocks = a.reshape(-1, 16)  # 32 B blocks of 16 fp16
    picked = np.concatenate([blocks[0:16:2], blocks[16:32:2]]).reshape(-1)  # blocks 0,2,..
    expect = np.maximum(picked, np.tile(b, 2))  # repeat stride 0 reuses the same 256 B
    assert np.array_equal(mem.read(UB, DST, "float16", (256,)), expect)


def test_destination_block_stride_skips_blocks() -> None:
    mem = _mem()
    a = _fill(mem, SRC0, "int32", 64)
    dst = _sentinel(mem, DST, "int32", 128)
    execute(VUnary(VUnOp.ABS, DType.INT32, Addr(UB, DST), Addr(UB, SRC0), dst_blk_stride=2),
            mem)
    got = mem.read(UB, DST, "int32", (128,)).reshape(16, 8)
    assert np.array_equal(got[0::2].reshape(-1), np.abs(a))
    assert np.array_equal(got[1::2].reshape(-1), dst.reshape(16, 8)[1::2].reshape(-1))


@pytest.mark.parametrize("op,fn", [
    (VUnOp.EXP, np.exp), (VUnOp.LN, np.log), (VUnOp.SQRT, np.sqrt),
    (VUnOp.RSQRT, lambda x: 1 / np.sqrt(x)), (VUnOp.REC, lambda x: 1 / x),
    (VUnOp.ABS, np.abs), (VUnOp.RELU, lambda x: np.maximum(x, 0)),
])
def test_float_unary_ops(op: VUnOp, fn) -> None:
    mem = _mem()
    x = _fill(mem, SRC0, "float16", 128, scale=1)
    if op in (VUnOp.LN, VUnOp.SQRT, VUnOp.RSQRT):
        x = np.abs(x) + np.float16(0.1)
        mem.view(UB, SRC0, "float16", 128)[:] = x
    execute(VUnary(op, DType.FP16, Addr(UB, DST), Addr(UB, SRC0)), mem)
    expect = fn(x.astype(np.float32)).astype(np.float16)
    assert np.array_equal(mem.read(UB, DST, "float16", (128,)), expect)


def test_integer_bitwise_and_division() -> None:
    mem = _mem()
    a = RNG.integers(-30000, 30000, 128).astype(np.int16)
    b = RNG.integers(-50, 50, 128).astype(np.int16)
    b[:4] = 0
    mem.write(UB, SRC0, a)
    mem.write(UB, SRC1, b)
    for op, expect in [(VBinOp.AND, a & b), (VBinOp.OR, a | b)]:
        execute(VBinary(op, DType.INT16, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC1)), mem)
        assert np.array_equal(mem.read(UB, DST, "int16", (128,)), expect)
    execute(VUnary(VUnOp.NOT, DType.INT16, Addr(UB, DST), Addr(UB, SRC0)), mem)
    assert np.array_equal(mem.read(UB, DST, "int16", (128,)), ~a)
    execute(VBinary(VBinOp.DIV, DType.INT16, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC1)), mem)
    safe = np.where(b == 0, 1, b).astype(np.int64)
    quotient = np.where(b == 0, 0, np.trunc(a / safe)).astype(np.int16)
    assert np.array_equal(mem.read(UB, DST, "int16", (128,)), quotient)


def test_integer_add_saturates_and_float_only_ops_refuse_ints() -> None:
    mem = _mem()
    mem.write(UB, SRC0, np.full(128, 30000, np.int16))
    execute(VBinary(VBinOp.ADD, DType.INT16, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC0)), mem)
    assert (mem.read(UB, DST, "int16", (128,)) == 32767).all()
    with pytest.raises(SimulationError, match="vexp: needs a float dtype, got int16"):
        execute(VUnary(VUnOp.EXP, DType.INT16, Addr(UB, DST), Addr(UB, SRC0)), mem)


@pytest.mark.parametrize("op,fn", [
    (VScalarOp.ADDS, lambda x, s: x + s), (VScalarOp.MULS, lambda x, s: x * s),
    (VScalarOp.MAXS, np.maximum), (VScalarOp.MINS, np.minimum),
    (VScalarOp.LRELU, lambda x, s: np.where(x > 0, x, x * s)),
])
def test_scalar_ops(op: VScalarOp, fn) -> None:
    mem = _mem()
    x = _fill(mem, SRC0, "float32", 128)
    execute(VScalar(op, DType.FP32, Addr(UB, DST), Addr(UB, SRC0), 0.25, repeat=2), mem)
    assert np.array_equal(mem.read(UB, DST, "float32", (128,)),
                          fn(x, np.float32(0.25)).astype(np.float32))


def test_vdup_fills_active_lanes_in_counter_mode() -> None:
    mem = _mem()
    dst = _sentinel(mem, DST, "float16", 256)
    execute(VDup(DType.FP16, Addr(UB, DST), 1.5, repeat=7), mem, MaskState(True, 0, 130))
    got = mem.read(UB, DST, "float16", (256,))
    assert (got[:130] == 1.5).all() and np.array_equal(got[130:], dst[130:])


def test_vconv_fp32_to_fp16_and_back_with_strides() -> None:
    mem = _mem()
    x = _fill(mem, SRC0, "float32", 128)
    # 64 lanes per repeat (the wider type); the fp16 side of a repeat is 4 blocks = 128 B
    execute(VConv(DType.FP16, DType.FP32, Addr(UB, DST), Addr(UB, SRC0), repeat=2,
                  dst_rep_stride=4), mem)
    half = mem.read(UB, DST, "float16", (128,))
    assert np.array_equal(half, x.astype(np.float16))
    execute(VConv(DType.FP32, DType.FP16, Addr(UB, SRC1), Addr(UB, DST), repeat=2,
                  src_rep_stride=4), mem)
    assert np.array_equal(mem.read(UB, SRC1, "float32", (128,)), half.astype(np.float32))


def test_vconv_to_int8_rounds_and_saturates_and_bf16() -> None:
    mem = _mem()
    x = np.array([0.5, 1.5, -2.5, 300.0, -300.0, 2.4, np.nan, -0.6] * 16, np.float16)
    mem.write(UB, SRC0, x)
    execute(VConv(DType.INT8, DType.FP16, Addr(UB, DST), Addr(UB, SRC0)), mem)
    expect = np.array([0, 2, -2, 127, -128, 2, 0, -1] * 16, np.int8)
    assert np.array_equal(mem.read(UB, DST, "int8", (128,)), expect)
    y = _fill(mem, SRC1, "float32", 64)
    execute(VConv(DType.BF16, DType.FP32, Addr(UB, DST), Addr(UB, SRC1)), mem)
    bits = mem.read(UB, DST, "uint16", (64,))
    assert np.array_equal(bits, float32_to_bf16(y))
    assert np.allclose(bf16_to_float32(bits), y, rtol=2 ** -8)


def test_vreduce_with_mask_and_destination_stride() -> None:
    mem = _mem()
    x = _fill(mem, SRC0, "float16", 384, scale=1)
    dst = _sentinel(mem, DST, "float16", 8)
    lo = (1 << 100 % 64) | 0xFFFF
    mask = MaskState(False, 1 << 36, lo)  # lanes 0-15, 36 and 100
    execute(VReduce(VReduceOp.SUM, DType.FP16, Addr(UB, DST), Addr(UB, SRC0), repeat=3,
                    dst_rep_stride=2), mem, mask)
    active = _lanes((1 << 100) | lo, 128)
    rows = x.reshape(3, 128).astype(np.float32)
    expect = np.where(active, rows, 0).sum(axis=1).astype(np.float16)
    got = mem.read(UB, DST, "float16", (8,))
    assert np.allclose(got[[0, 2, 4]].astype(np.float32), expect, rtol=1e-3)
    assert np.array_equal(got[[1, 3, 5, 6, 7]], dst[[1, 3, 5, 6, 7]])
    before = mem.read(UB, DST, "float16", (3,))
    execute(VReduce(VReduceOp.MAX, DType.FP16, Addr(UB, DST), Addr(UB, SRC0), repeat=3), mem,
            MaskState(True, 0, 200))
    got = mem.read(UB, DST, "float16", (3,))
    assert got[0] == x[:128].max() and got[1] == x[128:200].max()
    assert got[2] == before[2]  # counter mode: 200 elements are two repeats, repeat=3 ignored
    execute(VReduce(VReduceOp.MIN, DType.FP16, Addr(UB, DST), Addr(UB, SRC0)), mem,
            MaskState(False, 0, 0))
    assert mem.read(UB, DST, "float16", (1,))[0] == got[0]  # no active lane: unchanged


def test_eight_bit_lanes_pair_mask_bits() -> None:
    mem = _mem()
    mem.write(UB, SRC0, np.arange(256, dtype=np.uint8))
    dst = _sentinel(mem, DST, "int8", 256).view(np.uint8)
    execute(VBinary(VBinOp.OR, DType.UINT8, Addr(UB, DST), Addr(UB, SRC0), Addr(UB, SRC0)), mem,
            MaskState(False, 1 << 63, 1))
    got = mem.read(UB, DST, "uint8", (256,))
    active = np.zeros(256, bool)
    active[[0, 1, 254, 255]] = True
    assert np.array_equal(got, np.where(active, np.arange(256), dst))


def test_vector_out_of_bounds_is_named() -> None:
    with pytest.raises(SimulationError, match=r"vadd: UB\[0xff00:0x10100\] is outside UB"):
        execute(VBinary(VBinOp.ADD, DType.FP16, Addr(UB, 0xFF00), Addr(UB, 0), Addr(UB, 0),
                        repeat=2), _mem())
