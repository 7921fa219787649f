"""Data-movement instructions: burst copies (MTE2/MTE1/MTE3/V by path), ND->NZ loads, 2-D
fractal loads and img2col (load3d) on MTE1, L0C->UB on the vector pipe and FixPipe.

Parameters follow facts/davinci.md §3.3-§3.4: bursts and gaps count 32 B blocks
(nBurst < 4096, lenBurst < 65536 [AKG-PARAMS]); 2-D loads move 512 B fractals; img2col reads an
NC1HWC0 feature map in L1 and emits 16 x C0 fractals in the FRACTAL_ZZ order the Cube expects.
"""

from __future__ import annotations

from dataclasses import dataclass

from isa.davinci.base import Instruction
from isa.davinci.types import (
    BLOCK_BYTES,
    FRACTAL_BYTES,
    FRACTAL_ROWS,
    Addr,
    DType,
    Pipe,
    Region,
    Space,
    region,
)

# Which pipe moves data along each path (facts §2.3 and §3.1). Coupled-only and separated-only
# paths are both listed; whether a path exists on a given chip is the verifier's question.
COPY_PATHS: dict[tuple[Space, Space], Pipe] = {
    (Space.GM, Space.L1): Pipe.MTE2,
    (Space.GM, Space.UB): Pipe.MTE2,
    (Space.GM, Space.L0A): Pipe.MTE2,
    (Space.GM, Space.L0B): Pipe.MTE2,
    (Space.L1, Space.UB): Pipe.MTE1,
    (Space.L1, Space.BT): Pipe.MTE1,
    (Space.UB, Space.GM): Pipe.MTE3,
    (Space.UB, Space.L1): Pipe.MTE3,
    (Space.L1, Space.GM): Pipe.MTE3,
    (Space.UB, Space.UB): Pipe.V,
}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class Copy(Instruction):
    """Burst copy ``dst <- src``: ``n_burst`` bursts of ``burst_len`` 32 B blocks, with gaps
    of ``src_gap`` / ``dst_gap`` blocks between bursts. The pipe follows the path
    (GM->L1/UB/L0A/L0B: MTE2; L1->UB/BT: MTE1; UB->GM/L1 and L1->GM: MTE3; UB->UB: V)."""

    MNEMONIC = "copy"
    dst: Addr
    src: Addr
    n_burst: int = 1
    burst_len: int = 1
    src_gap: int = 0
    dst_gap: int = 0

    @property
    def pipe(self) -> Pipe:
        return COPY_PATHS.get((self.src.space, self.dst.space), Pipe.MTE2)

    @property
    def nbytes(self) -> int:
        return self.n_burst * self.burst_len * BLOCK_BYTES

    def _extent(self, gap: int) -> int:
        return ((self.n_burst - 1) * (self.burst_len + gap) + self.burst_len) * BLOCK_BYTES

    def reads(self) -> tuple[Region, ...]:
        return (region(self.src, self._extent(self.src_gap)),)

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, self._extent(self.dst_gap)),)


@dataclass(frozen=True, slots=True)
class CopyNd2Nz(Instruction):
    """MTE2 GM->L1 load of a ``rows x cols`` row-major (ND) matrix into NZ fractals
    (910B ``copy_gm_to_cbuf_multi_nd2nz``, facts §3.1): column blocks of C0 = 32 B / itemsize
    outermost, rows padded with zeros to a multiple of 16, each row C0 elements."""

    MNEMONIC = "copy_nd2nz"
    dst: Addr
    src: Addr
    rows: int
    cols: int
    src_row_stride: int
    dtype: DType = DType.FP16

    @property
    def pipe(self) -> Pipe:
        return Pipe.MTE2

    @property
    def c0(self) -> int:
        return BLOCK_BYTES // self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        padded_rows = _ceil_div(self.rows, FRACTAL_ROWS) * FRACTAL_ROWS
        return _ceil_div(self.cols, self.c0) * padded_rows * BLOCK_BYTES

    def reads(self) -> tuple[Region, ...]:
        extent = ((self.rows - 1) * self.src_row_stride + self.cols) * self.dtype.itemsize
        return (region(self.src, extent),)

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, self.nbytes),)


@dataclass(frozen=True, slots=True)
class Load2D(Instruction):
    """MTE1 2-D load L1 -> L0A/L0B of ``repeat`` 512 B fractals (``load_cbuf_to_ca/cb``):
    source fractal i at ``src + i*src_stride*512``, destination at ``dst + i*dst_stride*512``;
    ``transpose`` transposes each 16x16 fractal (2-byte types only)."""

    MNEMONIC = "load2d"
    dst: Addr
    src: Addr
    repeat: int = 1
    src_stride: int = 1
    dst_stride: int = 1
    transpose: bool = False
    dtype: DType = DType.FP16

    @property
    def pipe(self) -> Pipe:
        return Pipe.MTE1

    @property
    def nbytes(self) -> int:
        return self.repeat * FRACTAL_BYTES

    def reads(self) -> tuple[Region, ...]:
        return (region(self.src, ((self.repeat - 1) * self.src_stride + 1) * FRACTAL_BYTES),)

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, ((self.repeat - 1) * self.dst_stride + 1) * FRACTAL_BYTES),)


@dataclass(frozen=True, slots=True)
class Img2Col(Instruction):
    """MTE1 img2col (load3d) of an NC1HWC0 feature map in L1 into L0A (or L0B) fractals.

    The feature map at ``src`` holds ``c1`` slices of ``fmap_h x fmap_w x C0``. It is viewed as
    the matrix A[m, k] with m = output pixel (oh * Wo + ow) and k = ((c1 * kh + i) * kw + j) * C0
    + c0 (the FRACTAL_Z weight order, facts §5). The instruction writes the ``m_steps x k_steps``
    fractals starting at output pixel ``m_start`` and K fractal ``k_start`` in FRACTAL_ZZ order
    (fractal (i, j) at ``dst + (i * k_steps + j) * 512``). Padding and pixels past the output
    read as zero.

    Into L0B each fractal is written transposed (rows are K, columns pixels), as load3d into
    L0B transposes automatically (facts/davinci.md §3.4): the same fractal order is then the
    FRACTAL_ZN (Mmad B) form of the matrix A[m, k] read as B[K = pixel, N = k], which is how a
    weight gradient contracts over pixels.
    """

    MNEMONIC = "img2col"
    dst: Addr
    src: Addr
    fmap_h: int
    fmap_w: int
    c1: int
    kernel_h: int
    kernel_w: int
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    m_start: int = 0
    m_steps: int = 1
    k_start: int = 0
    k_steps: int = 1
    dtype: DType = DType.FP16

    @property
    def pipe(self) -> Pipe:
        return Pipe.MTE1

    @property
    def c0(self) -> int:
        return BLOCK_BYTES // self.dtype.itemsize

    @property
    def out_h(self) -> int:
        span = self.dilation_h * (self.kernel_h - 1) + 1
        return (self.fmap_h + self.pad_top + self.pad_bottom - span) // self.stride_h + 1

    @property
    def out_w(self) -> int:
        span = self.dilation_w * (self.kernel_w - 1) + 1
        return (self.fmap_w + self.pad_left + self.pad_right - span) // self.stride_w + 1

    @property
    def nbytes(self) -> int:
        return self.m_steps * self.k_steps * FRACTAL_BYTES

    def reads(self) -> tuple[Region, ...]:
        fmap = self.c1 * self.fmap_h * self.fmap_w * BLOCK_BYTES
        return (region(self.src, fmap),)

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, self.nbytes),)


@dataclass(frozen=True, slots=True)
class CopyL0cToUb(Instruction):
    """Vector-pipe move L0C -> UB on coupled cores (``copy_matrix_cc_to_ubuf``, facts §1.4):
    ``n_fractals`` 16x16 fractals, converted from ``src_dtype`` to ``dst_dtype`` element-wise,
    optionally through ReLU. The NZ fractal order is kept."""

    MNEMONIC = "copy_l0c_to_ub"
    dst: Addr
    src: Addr
    n_fractals: int = 1
    src_dtype: DType = DType.FP32
    dst_dtype: DType = DType.FP16
    relu: bool = False

    @property
    def pipe(self) -> Pipe:
        return Pipe.V

    @property
    def nbytes(self) -> int:
        return self.n_fractals * 256 * self.src_dtype.itemsize

    def reads(self) -> tuple[Region, ...]:
        return (region(self.src, self.n_fractals * 256 * self.src_dtype.itemsize),)

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, self.n_fractals * 256 * self.dst_dtype.itemsize),)


@dataclass(frozen=True, slots=True)
class Fixpipe(Instruction):
    """FixPipe L0C -> GM or L1 on separated cores (910B ``copy_matrix_cc_to_gm/cbuf``,
    facts §1.4): an ``m x n`` NZ result in ``src_dtype`` is scaled by ``scale``, optionally
    ReLU-ed, converted to ``dst_dtype`` and written either as NZ fractals or, with ``nz2nd``,
    as a row-major matrix with ``dst_row_stride`` elements between rows."""

    MNEMONIC = "fixpipe"
    dst: Addr
    src: Addr
    m: int
    n: int
    src_dtype: DType = DType.FP32
    dst_dtype: DType = DType.FP16
    relu: bool = False
    nz2nd: bool = False
    dst_row_stride: int = 0
    scale: float = 1.0

    @property
    def pipe(self) -> Pipe:
        return Pipe.FIX

    @property
    def fractals(self) -> int:
        return _ceil_div(self.m, FRACTAL_ROWS) * _ceil_div(self.n, FRACTAL_ROWS)

    @property
    def nbytes(self) -> int:
        return self.fractals * 256 * self.src_dtype.itemsize

    def reads(self) -> tuple[Region, ...]:
        return (region(self.src, self.nbytes),)

    def writes(self) -> tuple[Region, ...]:
        if self.nz2nd:
            extent = ((self.m - 1) * self.dst_row_stride + self.n) * self.dst_dtype.itemsize
        else:
            extent = self.fractals * 256 * self.dst_dtype.itemsize
        return (region(self.dst, extent),)


@dataclass(frozen=True, slots=True)
class CopyGather(Instruction):
    """MTE2 row gather GM -> UB (an embedding lookup): for i < ``rows``, copy ``row_bytes``
    from ``src + index[i] * src_pitch`` to ``dst + i * dst_pitch``, where ``index`` holds
    ``rows`` int32 row numbers in UB, each below ``table_rows``.

    The DaVinci scalar unit forms data-dependent DMA addresses by reading values through its
    data cache (facts §1.3); this instruction stands for that loop of one burst per row.
    """

    MNEMONIC = "copy_gather"
    dst: Addr
    src: Addr
    index: Addr
    rows: int
    row_bytes: int
    src_pitch: int
    dst_pitch: int
    table_rows: int

    @property
    def pipe(self) -> Pipe:
        return Pipe.MTE2

    @property
    def nbytes(self) -> int:
        return self.rows * self.row_bytes

    def reads(self) -> tuple[Region, ...]:
        return (region(self.index, self.rows * 4),
                region(self.src, (self.table_rows - 1) * self.src_pitch + self.row_bytes))

    def writes(self) -> tuple[Region, ...]:
        return (region(self.dst, (self.rows - 1) * self.dst_pitch + self.row_bytes),)
