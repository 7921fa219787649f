"""Functional semantics of the data-movement instructions that only move bytes: burst copies,
ND->NZ loads, 2-D fractal loads (with transpose) and img2col (load3d).

Each rule reads every source byte before writing, so a copy whose source and destination
overlap behaves like ``memmove``.
"""

from __future__ import annotations

import numpy as np

from hw.davinci.functional_memory import CoreMemory, strided_extent_bytes, strided_rows
from hw.errors import SimulationError
from isa.davinci import Copy, CopyGather, CopyNd2Nz, DType, Img2Col, Instruction, Load2D
from isa.davinci.layouts import to_nz
from isa.davinci.types import BLOCK_BYTES, FRACTAL_BYTES, FRACTAL_ROWS, Addr, Space


def _read_rows(mem: CoreMemory, addr: Addr, rows: int, row_bytes: int, pitch: int,
               instr: Instruction) -> np.ndarray:
    extent = strided_extent_bytes(rows, row_bytes, pitch)
    window = mem.window(addr.space, addr.offset, extent, instr)
    return strided_rows(window, rows, row_bytes, pitch).copy()


def _write_rows(mem: CoreMemory, addr: Addr, data: np.ndarray, pitch: int,
                instr: Instruction) -> None:
    rows, row_bytes = data.shape
    extent = strided_extent_bytes(rows, row_bytes, pitch)
    window = mem.window(addr.space, addr.offset, extent, instr)
    strided_rows(window, rows, row_bytes, pitch)[...] = data


def exec_copy(instr: Copy, mem: CoreMemory) -> None:
    """``n_burst`` bursts of ``burst_len`` 32 B blocks; burst i starts ``i * (burst_len +
    gap)`` blocks after the base on each side."""
    row = instr.burst_len * BLOCK_BYTES
    data = _read_rows(mem, instr.src, instr.n_burst, row,
                      (instr.burst_len + instr.src_gap) * BLOCK_BYTES, instr)
    _write_rows(mem, instr.dst, data, (instr.burst_len + instr.dst_gap) * BLOCK_BYTES, instr)


def exec_copy_nd2nz(instr: CopyNd2Nz, mem: CoreMemory) -> None:
    """Read ``rows`` rows of ``cols`` elements (``src_row_stride`` elements apart) and write
    them as zero-padded NZ fractals (``isa.davinci.layouts.to_nz``)."""
    size = instr.dtype.itemsize
    raw = _read_rows(mem, instr.src, instr.rows, instr.cols * size,
                     instr.src_row_stride * size, instr)
    mat = raw.view(instr.dtype.np_dtype).reshape(instr.rows, instr.cols)
    stored = to_nz(mat, size)
    mem.window(instr.dst.space, instr.dst.offset, stored.nbytes, instr)[:] = (
        stored.view(np.uint8).reshape(-1)
    )


def exec_load2d(instr: Load2D, mem: CoreMemory) -> None:
    """``repeat`` 512 B fractals from ``src + i * src_stride * 512`` to ``dst + i *
    dst_stride * 512``, each optionally transposed as a 16 x 16 matrix of 2-byte elements."""
    data = _read_rows(mem, instr.src, instr.repeat, FRACTAL_BYTES,
                      instr.src_stride * FRACTAL_BYTES, instr)
    if instr.transpose:
        if instr.dtype.itemsize != 2:
            raise SimulationError(
                f"{instr.mnemonic}: transpose needs a 2-byte dtype, got {instr.dtype.text}"
            )
        fractals = data.view(np.uint16).reshape(instr.repeat, FRACTAL_ROWS, FRACTAL_ROWS)
        data = np.ascontiguousarray(fractals.transpose(0, 2, 1)).view(np.uint8)
        data = data.reshape(instr.repeat, FRACTAL_BYTES)
    _write_rows(mem, instr.dst, data, instr.dst_stride * FRACTAL_BYTES, instr)


def img2col_fractals(fmap: np.ndarray, instr: Img2Col) -> np.ndarray:
    """The (m_steps, k_steps, 16, C0) fractals ``instr`` produces from ``fmap`` shaped
    (c1, fmap_h, fmap_w, C0): row r of fractal (i, j) is output pixel m = m_start + 16 i + r
    and columns K fractal kf = k_start + j = (c1 * kernel_h + kh) * kernel_w + kw. Padding
    and pixels past the output (m >= out_h * out_w) give zeros."""
    c1, height, width, c0 = fmap.shape
    out_h, out_w = instr.out_h, instr.out_w
    pixel = instr.m_start + np.arange(instr.m_steps * FRACTAL_ROWS)
    oh, ow = pixel // out_w, pixel % out_w
    kf = instr.k_start + np.arange(instr.k_steps)
    ch = kf // (instr.kernel_h * instr.kernel_w)
    ki = (kf // instr.kernel_w) % instr.kernel_h
    kj = kf % instr.kernel_w
    ih = oh[:, None] * instr.stride_h - instr.pad_top + ki[None, :] * instr.dilation_h
    iw = ow[:, None] * instr.stride_w - instr.pad_left + kj[None, :] * instr.dilation_w
    valid = ((pixel < out_h * out_w)[:, None]
             & (ih >= 0) & (ih < height) & (iw >= 0) & (iw < width))
    zero_row = c1 * height * width  # index of an appended row of zeros
    rows = np.where(valid, (ch[None, :] * height + ih) * width + iw, zero_row)
    table = np.concatenate([fmap.reshape(-1, c0), np.zeros((1, c0), dtype=fmap.dtype)])
    gathered = table[rows]  # (m_steps * 16, k_steps, C0)
    shaped = gathered.reshape(instr.m_steps, FRACTAL_ROWS, instr.k_steps, c0)
    return np.ascontiguousarray(shaped.transpose(0, 2, 1, 3))


def exec_img2col(instr: Img2Col, mem: CoreMemory) -> None:
    """img2col (load3d) exactly as the ``Img2Col`` docstring defines it; see
    ``img2col_fractals`` (fractals transposed when the destination is L0B)."""
    if instr.out_h <= 0 or instr.out_w <= 0:
        raise SimulationError(
            f"{instr.mnemonic}: the kernel window does not fit the padded feature map "
            f"(output {instr.out_h} x {instr.out_w})"
        )
    k_total = instr.c1 * instr.kernel_h * instr.kernel_w
    if instr.k_start < 0 or instr.k_start + instr.k_steps > k_total:
        raise SimulationError(
            f"{instr.mnemonic}: K fractals [{instr.k_start}, {instr.k_start + instr.k_steps}) "
            f"exceed the {k_total} of c1 x kernel_h x kernel_w"
        )
    c0 = instr.c0
    count = instr.c1 * instr.fmap_h * instr.fmap_w * c0
    fmap = mem.view(instr.src.space, instr.src.offset, instr.dtype, count, instr)
    out = img2col_fractals(fmap.reshape(instr.c1, instr.fmap_h, instr.fmap_w, c0), instr)
    if instr.dst.space is Space.L0B:  # load3d into L0B transposes each fractal
        out = np.ascontiguousarray(out.transpose(0, 1, 3, 2))
    mem.window(instr.dst.space, instr.dst.offset, out.nbytes, instr)[:] = (
        out.view(np.uint8).reshape(-1)
    )


def exec_copy_gather(instr: CopyGather, mem: CoreMemory) -> None:
    """Rows ``index[i]`` of the GM table to ``dst + i * dst_pitch``."""
    index = mem.read(instr.index.space, instr.index.offset, DType.INT32, (instr.rows,))
    bad = (index < 0) | (index >= instr.table_rows)
    if bad.any():
        raise SimulationError(
            f"copy_gather: index {int(index[bad][0])} outside the table of "
            f"{instr.table_rows} rows")
    mem.window(instr.src.space, instr.src.offset, instr.reads()[1].nbytes, instr)
    gm = mem.buffer(instr.src.space)
    rows = gm[instr.src.offset + index.astype(np.int64)[:, None] * instr.src_pitch
              + np.arange(instr.row_bytes)[None, :]]
    window = mem.window(instr.dst.space, instr.dst.offset,
                        (instr.rows - 1) * instr.dst_pitch + instr.row_bytes, instr)
    for i in range(instr.rows):
        window[i * instr.dst_pitch:i * instr.dst_pitch + instr.row_bytes] = rows[i]
