"""Functional semantics of the DaVinci data-movement and Cube instructions, checked against
independent NumPy (explicit index arithmetic and direct convolution), plus the rule table."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from hw.davinci.functional import EXECUTE_RULES, CoreMemory, MaskState, execute, mask_after
from hw.davinci.functional_numerics import bf16_to_float32, float32_to_bf16
from hw.errors import SimulationError
from isa.davinci import (
    INSTRUCTION_CLASSES,
    Addr,
    Copy,
    CopyL0cToUb,
    CopyNd2Nz,
    DType,
    Fixpipe,
    Img2Col,
    Load2D,
    Mmad,
    SetMask,
    SetMaskMode,
    Space,
)
from isa.davinci.layouts import to_fractal_z, to_nc1hwc0, to_nz, to_nz_c, to_zn, to_zz

CFG = SimpleNamespace(l1_bytes=1 << 19, l0a_bytes=1 << 16, l0b_bytes=1 << 16,
                      l0c_bytes=1 << 17, ub_bytes=1 << 18, bt_bytes=1024, fb_bytes=0)
RNG = np.random.default_rng(7)
GM, L1, L0A, L0B, L0C, UB = Space.GM, Space.L1, Space.L0A, Space.L0B, Space.L0C, Space.UB


def _mem(gm_bytes: int = 1 << 16) -> CoreMemory:
    return CoreMemory(CFG, np.zeros(gm_bytes, dtype=np.uint8))


def test_every_instruction_class_has_a_rule() -> None:
    assert set(EXECUTE_RULES) == set(INSTRUCTION_CLASSES)


def test_core_memory_sizes_and_shared_gm() -> None:
    gm = np.zeros(256, np.uint8)
    a, b = CoreMemory(CFG, gm), CoreMemory(CFG, gm)
    assert a.size(L0C) == CFG.l0c_bytes and a.size(Space.FB) == 0
    a.view(GM, 8, DType.FP32, 2)[:] = [1.5, -2.0]
    assert b.read(GM, 8, "float32", (2,)).tolist() == [1.5, -2.0]


def test_copy_bursts_with_gaps() -> None:
    mem = _mem()
    src = RNG.integers(0, 256, 1024, dtype=np.uint8)
    mem.gm[:1024] = src
    mem.buffer(UB)[:] = 0xAA
    execute(Copy(Addr(UB, 64), Addr(GM, 32), n_burst=3, burst_len=2, src_gap=1, dst_gap=2), mem)
    ub = mem.buffer(UB)
    for i in range(3):  # burst i: src block 1 + 3i, dst block 2 + 4i, 64 B each
        s, d = 32 + i * 96, 64 + i * 128
        assert np.array_equal(ub[d:d + 64], src[s:s + 64])
        assert (ub[d + 64:d + 128] == 0xAA).all()  # the destination gap is untouched
    assert (ub[:64] == 0xAA).all()


def test_copy_out_of_bounds_names_instruction_and_region() -> None:
    with pytest.raises(SimulationError, match=r"copy: UB\[0x3ffe0:0x40020\] is outside UB"):
        execute(Copy(Addr(UB, (1 << 18) - 32), Addr(GM, 0), burst_len=2), _mem())
    with pytest.raises(SimulationError, match="outside FB"):
        execute(Copy(Addr(Space.FB, 0), Addr(L1, 0)), _mem())


def test_copy_nd2nz_pads_with_zeros() -> None:
    mem = _mem()
    rows, cols, stride = 20, 40, 48
    full = RNG.standard_normal((rows, stride)).astype(np.float16)
    mem.view(GM, 0, DType.FP16, full.size)[:] = full.reshape(-1)
    mem.buffer(L1)[:] = 0xFF  # stale data must be overwritten by the zero padding
    instr = CopyNd2Nz(Addr(L1, 0), Addr(GM, 0), rows, cols, stride)
    execute(instr, mem)
    got = mem.read(L1, 0, DType.FP16, (3, 32, 16))
    expect = np.zeros((3, 32, 16), np.float16)
    for m in range(rows):
        for n in range(cols):
            expect[n // 16, m, n % 16] = full[m, n]
    assert np.array_equal(got, expect)
    assert instr.nbytes == expect.nbytes


def test_load2d_strides_and_transpose() -> None:
    mem = _mem()
    fractals = RNG.integers(-999, 999, (6, 16, 16)).astype(np.int16)
    mem.write(L1, 0, fractals)
    execute(Load2D(Addr(L0A, 0), Addr(L1, 512), repeat=3, src_stride=2, dst_stride=1), mem)
    assert np.array_equal(mem.read(L0A, 0, "int16", (3, 16, 16)), fractals[1::2])
    execute(Load2D(Addr(L0B, 0), Addr(L1, 0), repeat=2, dst_stride=2, transpose=True,
                   dtype=DType.BF16), mem)
    got = mem.read(L0B, 0, "int16", (4, 16, 16))
    assert np.array_equal(got[0], fractals[0].T) and np.array_equal(got[2], fractals[1].T)
    assert not got[1].any()
    with pytest.raises(SimulationError, match="load2d: transpose needs a 2-byte dtype"):
        execute(Load2D(Addr(L0B, 0), Addr(L1, 0), transpose=True, dtype=DType.INT8), mem)


def _as_dtype(values: np.ndarray, dtype: DType) -> tuple[np.ndarray, np.ndarray]:
    """(stored array, the float64 values it holds)."""
    if dtype is DType.BF16:
        bits = float32_to_bf16(values.astype(np.float32))
        return bits, bf16_to_float32(bits).astype(np.float64)
    stored = values.astype(dtype.np_dtype)
    return stored, stored.astype(np.float64)


def _random(shape: tuple[int, ...], dtype: DType) -> np.ndarray:
    if dtype is DType.INT8:
        return RNG.integers(-128, 128, shape)
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("dtype", [DType.FP16, DType.INT8, DType.BF16, DType.FP32])
@pytest.mark.parametrize("m,k,n", [(64, 64, 64), (20, 40, 24)])
def test_mmad_init_and_accumulate(dtype: DType, m: int, k: int, n: int) -> None:
    mem = _mem()
    a, a64 = _as_dtype(_random((m, k), dtype), dtype)
    b, b64 = _as_dtype(_random((k, n), dtype), dtype)
    zz, zn = to_zz(a, dtype.itemsize), to_zn(b, dtype.itemsize)
    k0 = 32 // dtype.itemsize
    if k % k0:  # garbage in the K padding of the last fractal must not leak into C
        zz[:, -1, :, k % k0:] = 1
        zn[-1, :, :, k % k0:] = 1
    mem.write(L0A, 0, zz)
    mem.write(L0B, 0, zn)
    instr = Mmad(Addr(L0C, 0), Addr(L0A, 0), Addr(L0B, 0), m, k, n, dtype)
    acc = instr.acc_dtype
    c_shape = (instr.n1, instr.m1, 16, 16)
    execute(instr, mem)
    expect = to_nz_c(a64 @ b64)
    got = mem.read(L0C, 0, acc, c_shape).astype(np.float64)
    tol = 0 if acc is DType.INT32 else 1e-4 * np.abs(a64).max() * np.abs(b64).max() * k
    assert np.allclose(got, expect, atol=tol, rtol=0)
    execute(Mmad(Addr(L0C, 0), Addr(L0A, 0), Addr(L0B, 0), m, k, n, dtype, init=False), mem)
    got = mem.read(L0C, 0, acc, c_shape).astype(np.float64)
    assert np.allclose(got, 2 * expect, atol=2 * tol, rtol=0)


def test_copy_l0c_to_ub_converts_with_relu() -> None:
    mem = _mem()
    values = RNG.standard_normal(512).astype(np.float32) * 100
    mem.write(L0C, 0, values)
    execute(CopyL0cToUb(Addr(UB, 0), Addr(L0C, 0), n_fractals=2, relu=True), mem)
    assert np.array_equal(mem.read(UB, 0, "float16", (512,)),
                          np.maximum(values, 0).astype(np.float16))


def test_fixpipe_nz2nd_scale_relu_and_stride() -> None:
    mem = _mem()
    m, n, stride = 20, 24, 30
    c = (RNG.standard_normal((m, n)) * 4).astype(np.float32)
    mem.write(L0C, 0, to_nz_c(c))
    mem.gm[:] = 0x7C  # fp16 0x7C7C, a sentinel: bytes between rows stay untouched
    execute(Fixpipe(Addr(GM, 64), Addr(L0C, 0), m, n, relu=True, nz2nd=True,
                    dst_row_stride=stride, scale=0.5), mem)
    out = mem.read(GM, 64, "float16", (m, stride))
    assert np.array_equal(out[:, :n], np.maximum(c * 0.5, 0).astype(np.float16))
    assert (out[:, n:].view(np.uint16) == 0x7C7C).all()
    with pytest.raises(SimulationError, match="nz2nd needs dst_row_stride >= n"):
        execute(Fixpipe(Addr(GM, 0), Addr(L0C, 0), m, n, nz2nd=True), mem)


def test_fixpipe_nz_quantises_int32_to_int8() -> None:
    mem = _mem()
    c = RNG.integers(-3000, 3000, (16, 32)).astype(np.int32)
    mem.write(L0C, 0, to_nz_c(c))
    execute(Fixpipe(Addr(L1, 0), Addr(L0C, 0), 16, 32, src_dtype=DType.INT32,
                    dst_dtype=DType.INT8, scale=1 / 16), mem)
    got = mem.read(L1, 0, "int8", (2, 1, 16, 16))
    assert np.array_equal(got, to_nz_c(np.clip(np.rint(c / 16), -128, 127).astype(np.int8)))


def _img2col_naive(x: np.ndarray, kh: int, kw: int, stride: int, pad: int, dil: int,
                   ho: int, wo: int) -> np.ndarray:
    """A[m, k] by the Img2Col docstring, one element at a time (x is (C1, H, W, C0))."""
    c1, h, w, c0 = x.shape
    a = np.zeros((ho * wo, c1 * kh * kw * c0))
    for m in range(ho * wo):
        oh, ow = divmod(m, wo)
        for c in range(c1):
            for i in range(kh):
                for j in range(kw):
                    ih, iw = oh * stride - pad + i * dil, ow * stride - pad + j * dil
                    if 0 <= ih < h and 0 <= iw < w:
                        k = ((c * kh + i) * kw + j) * c0
                        a[m, k:k + c0] = x[c, ih, iw]
    return a


def _conv_direct(x: np.ndarray, wt: np.ndarray, stride: int, pad: int, dil: int) -> np.ndarray:
    cin, h, w = x.shape
    cout, _, kh, kw = wt.shape
    ho = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((cout, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            patch = xp[:, oh * stride: oh * stride + dil * (kh - 1) + 1: dil,
                       ow * stride: ow * stride + dil * (kw - 1) + 1: dil]
            out[:, oh, ow] = np.tensordot(wt, patch, axes=([1, 2, 3], [0, 1, 2]))
    return out


@pytest.mark.parametrize("stride,pad,dil", [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_img2col_mmad_fixpipe_is_a_convolution(stride: int, pad: int, dil: int) -> None:
    cin, h, w, cout = 20, 7, 6, 24
    x = RNG.standard_normal((cin, h, w)).astype(np.float16)
    wt = RNG.standard_normal((cout, cin, 3, 3)).astype(np.float16)
    mem = _mem()
    mem.write(L1, 0, to_nc1hwc0(x[None])[0])
    base: dict[str, Any] = dict(
        fmap_h=h, fmap_w=w, c1=2, kernel_h=3, kernel_w=3, stride_h=stride, stride_w=stride,
        dilation_h=dil, dilation_w=dil, pad_top=pad, pad_bottom=pad, pad_left=pad, pad_right=pad,
    )
    probe = Img2Col(Addr(L0A, 0), Addr(L1, 0), **base)
    ho, wo = probe.out_h, probe.out_w
    m_steps, k_steps = -(-ho * wo // 16), 2 * 9
    execute(Img2Col(Addr(L0A, 0), Addr(L1, 0), m_steps=m_steps, k_steps=k_steps, **base), mem)
    # the fractals hold exactly the docstring's matrix, zero past the last output pixel
    a = mem.read(L0A, 0, "float16", (m_steps, k_steps, 16, 16))
    a_mat = a.transpose(0, 2, 1, 3).reshape(m_steps * 16, k_steps * 16)
    naive = _img2col_naive(to_nc1hwc0(x[None])[0].astype(np.float64), 3, 3, stride, pad, dil,
                           ho, wo)
    assert np.array_equal(a_mat[:ho * wo], naive) and not a_mat[ho * wo:].any()
    # the whole convolution through the Cube and FixPipe
    mem.write(L0B, 0, to_fractal_z(wt))
    execute(Mmad(Addr(L0C, 0), Addr(L0A, 0), Addr(L0B, 0), ho * wo, k_steps * 16, cout), mem)
    execute(Fixpipe(Addr(GM, 0), Addr(L0C, 0), ho * wo, cout, dst_dtype=DType.FP32,
                    nz2nd=True, dst_row_stride=cout), mem)
    out = mem.read(GM, 0, "float32", (ho * wo, cout)).T.reshape(cout, ho, wo)
    expect = _conv_direct(x.astype(np.float64), wt.astype(np.float64), stride, pad, dil)
    assert np.allclose(out, expect, atol=1e-3)


def test_img2col_position_selects_a_sub_block() -> None:
    x = RNG.standard_normal((1, 32, 5, 5)).astype(np.float16)
    mem = _mem()
    mem.write(L1, 0, to_nc1hwc0(x)[0])
    base: dict[str, Any] = dict(fmap_h=5, fmap_w=5, c1=2, kernel_h=3, kernel_w=3, pad_top=1,
                                pad_bottom=1, pad_left=1, pad_right=1)
    execute(Img2Col(Addr(L0A, 0), Addr(L1, 0), m_steps=2, k_steps=18, **base), mem)
    full = mem.read(L0A, 0, "float16", (2, 18, 16, 16))
    execute(Img2Col(Addr(L0B, 0), Addr(L1, 0), m_start=16, m_steps=1, k_start=3, k_steps=2,
                    **base), mem)
    # into L0B every fractal arrives transposed (load3d to L0B, facts §3.4)
    assert np.array_equal(mem.read(L0B, 0, "float16", (1, 2, 16, 16))[0],
                          full[1, 3:5].transpose(0, 2, 1))
    with pytest.raises(SimulationError, match=r"K fractals \[17, 19\) exceed the 18"):
        execute(Img2Col(Addr(L0B, 0), Addr(L1, 0), k_start=17, k_steps=2, **base), mem)


def test_sync_instructions_move_no_data_and_mask_updates() -> None:
    mem = _mem()
    mem.buffer(UB)[:64] = 3
    mask = MaskState()
    for instr in (SetMask(0, 5), SetMaskMode(True)):
        execute(instr, mem, mask)
        mask = mask_after(mask, instr)
    assert mask == MaskState(True, 0, 5)
    assert (mem.buffer(UB)[:64] == 3).all()


def test_l1_nz_operands_reach_zz_and_zn_through_load2d() -> None:
    """The matmul data path: A and B in L1 as NZ; load2d without transpose turns A's column
    blocks into ZZ rows of fractals, load2d with transpose turns B's NZ fractals into ZN."""
    m, k, n = 32, 48, 32
    a = RNG.standard_normal((m, k)).astype(np.float16)
    b = RNG.standard_normal((k, n)).astype(np.float16)
    mem = _mem()
    b_base = 0x4000
    mem.write(L1, 0, to_nz(a))  # (K1=3, M=32, 16): fractal (k1, m1) at (k1 * 2 + m1) * 512
    mem.write(L1, b_base, to_nz(b))  # (N1=2, K=48, 16): fractal (n1, k1) at (n1 * 3 + k1) * 512
    for m1 in range(2):  # ZZ row m1 = fractals (k1, m1) for k1 = 0..2, 2 fractals apart in L1
        execute(Load2D(Addr(L0A, m1 * 3 * 512), Addr(L1, m1 * 512), repeat=3, src_stride=2), mem)
    for k1 in range(3):  # ZN row k1 = transposed fractals (n1, k1) for n1 = 0..1, 3 apart
        execute(Load2D(Addr(L0B, k1 * 2 * 512), Addr(L1, b_base + k1 * 512), repeat=2,
                       src_stride=3, transpose=True), mem)
    assert np.array_equal(mem.read(L0A, 0, "float16", (2, 3, 16, 16)), to_zz(a))
    assert np.array_equal(mem.read(L0B, 0, "float16", (3, 2, 16, 16)), to_zn(b))
    execute(Mmad(Addr(L0C, 0), Addr(L0A, 0), Addr(L0B, 0), m, k, n), mem)
    got = mem.read(L0C, 0, "float32", (2, 2, 16, 16))
    assert np.allclose(got, to_nz_c(a.astype(np.float32) @ b.astype(np.float32)), atol=1e-3)
