"""Functional semantics of the Cube and of the moves out of L0C: ``mmad``, the coupled-core
L0C -> UB copy and the separated-core FixPipe."""

from __future__ import annotations

import numpy as np

from hw.davinci.functional_memory import CoreMemory, strided_rows
from hw.davinci.functional_numerics import decode, encode, is_int
from hw.errors import SimulationError
from isa.davinci import CopyL0cToUb, DType, Fixpipe, Mmad
from isa.davinci.layouts import from_nz_c, from_zn, from_zz, to_nz_c
from isa.davinci.types import FRACTAL_ROWS

_FRACTAL_ELEMS = FRACTAL_ROWS * FRACTAL_ROWS  # one L0C fractal: 16 x 16 elements


def _operand(values: np.ndarray, dtype: DType) -> np.ndarray:
    """Cube input values in the type the product is computed in: float32 for floats (fp16 and
    bf16 products are exact in fp32 and accumulate in fp32, facts §1.1), float64 for 8-bit
    integers (exact for any realistic K, and BLAS-fast; the result is cast to int32)."""
    wide = decode(values, dtype)
    return wide.astype(np.float64) if is_int(dtype) else wide


def exec_mmad(instr: Mmad, mem: CoreMemory) -> None:
    """C (+)= A . B over whole 16-row/16-column fractals of M and N.

    K is the exact ``k``: A's columns and B's rows past ``k`` (the padding of the last K0
    fractal) take no part, so stale padding cannot leak into C. M and N are computed over the
    padded fractals, which is what ``writes()`` declares.
    """
    m1, k1, n1, k0 = instr.m1, instr.k1, instr.n1, instr.k0
    a_stored = mem.view(instr.a.space, instr.a.offset, instr.dtype, m1 * k1 * FRACTAL_ROWS * k0,
                        instr).reshape(m1, k1, FRACTAL_ROWS, k0)
    b_stored = mem.view(instr.b.space, instr.b.offset, instr.dtype, k1 * n1 * FRACTAL_ROWS * k0,
                        instr).reshape(k1, n1, FRACTAL_ROWS, k0)
    a = _operand(from_zz(a_stored, (m1 * FRACTAL_ROWS, instr.k)), instr.dtype)
    b = _operand(from_zn(b_stored, (instr.k, n1 * FRACTAL_ROWS)), instr.dtype)
    acc = instr.acc_dtype
    c_view = mem.view(instr.dst.space, instr.dst.offset, acc, n1 * m1 * _FRACTAL_ELEMS,
                      instr).reshape(n1, m1, FRACTAL_ROWS, FRACTAL_ROWS)
    with np.errstate(all="ignore"):  # inf and NaN inputs propagate as IEEE arithmetic does
        product = to_nz_c(a @ b)
        if acc is DType.INT32:
            total = product.astype(np.int64)
            if not instr.init:
                total += c_view
            c_view[...] = total.astype(np.int32)  # the int32 accumulator wraps
        else:
            c_view[...] = product if instr.init else c_view + product


def _post_process(values: np.ndarray, src: DType, dst: DType, relu: bool,
                  scale: float = 1.0) -> np.ndarray:
    """L0C values -> ``dst`` storage: scale (in float64, the quantise/dequantise step), ReLU,
    then a rounding, saturating conversion."""
    wide = decode(values, src)
    if scale != 1.0:
        with np.errstate(all="ignore"):
            wide = wide.astype(np.float64) * scale
    if relu:
        wide = np.maximum(wide, 0)
    return encode(wide, dst)


def exec_copy_l0c_to_ub(instr: CopyL0cToUb, mem: CoreMemory) -> None:
    """``n_fractals`` 16 x 16 fractals converted element-wise (NZ order kept)."""
    count = instr.n_fractals * _FRACTAL_ELEMS
    src = mem.view(instr.src.space, instr.src.offset, instr.src_dtype, count, instr)
    out = _post_process(src, instr.src_dtype, instr.dst_dtype, instr.relu)
    mem.view(instr.dst.space, instr.dst.offset, instr.dst_dtype, count, instr)[:] = out


def exec_fixpipe(instr: Fixpipe, mem: CoreMemory) -> None:
    """The ``m x n`` NZ result scaled, ReLU-ed and converted; written as NZ fractals, or with
    ``nz2nd`` as ``m`` rows of ``n`` elements ``dst_row_stride`` elements apart."""
    m1, n1 = -(-instr.m // FRACTAL_ROWS), -(-instr.n // FRACTAL_ROWS)
    src = mem.view(instr.src.space, instr.src.offset, instr.src_dtype,
                   n1 * m1 * _FRACTAL_ELEMS, instr).reshape(n1, m1, FRACTAL_ROWS, FRACTAL_ROWS)
    out = _post_process(src, instr.src_dtype, instr.dst_dtype, instr.relu, instr.scale)
    if not instr.nz2nd:
        mem.view(instr.dst.space, instr.dst.offset, instr.dst_dtype, out.size,
                 instr)[:] = out.reshape(-1)
        return
    if instr.dst_row_stride < instr.n:
        raise SimulationError(
            f"{instr.mnemonic}: nz2nd needs dst_row_stride >= n ({instr.n}), "
            f"got {instr.dst_row_stride}"
        )
    mat = np.ascontiguousarray(from_nz_c(out, (instr.m, instr.n)))
    size = instr.dst_dtype.itemsize
    pitch = instr.dst_row_stride * size
    extent = (instr.m - 1) * pitch + instr.n * size
    window = mem.window(instr.dst.space, instr.dst.offset, extent, instr)
    strided_rows(window, instr.m, instr.n * size, pitch)[...] = mat.view(np.uint8).reshape(
        instr.m, instr.n * size
    )
