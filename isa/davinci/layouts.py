"""Data layouts of the DaVinci buffers as pure NumPy transforms of logical arrays.

Each layout has a ``to_*`` function (logical array -> stored array, zero-padded to whole
fractals) and a ``from_*`` inverse (stored array + logical shape -> logical array). The stored
array's C-order bytes are exactly what the buffer holds. Formats follow facts/davinci.md §5
[ASC-FMT]; C0 = K0 = 32 B / itemsize (16 for fp16, 32 for int8, 8 for fp32) and
M0 = N0 = 16:

- ``nd``: row-major, unchanged.
- ``ndp``: row-major with the last axis zero-padded to a multiple of C0, so every row starts
  on a 32 B block (how the compiler keeps non-convolution activations in GM).
- ``nz``: a matrix (M, N) as L1 NZ fractals (ceil(N/C0), ceil16(M), C0): column blocks of C0
  outermost, rows inside, C0 elements per row (what ``copy_nd2nz`` writes).
- ``zz``: the Mmad A operand (M, K) as (M1, K1, 16, K0), fractals row-major, rows inside.
- ``zn``: the Mmad B operand (K, N) as (K1, N1, 16, K0): fractal (k1, n1) holds column
  n = n1*16 + r at row r with its K0 values.
- ``nz_c``: an L0C result (M, N) as (N1, M1, 16, 16), whatever the element size.
- ``nc1hwc0``: a feature map (N, C, H, W) as (N, C1, H, W, C0).
- ``nc1hwc0_s2d``: a feature map with few channels, space-to-depth by 2 first, then
  ``nc1hwc0``: (N, C, H, W) -> (N, 4C, ceil(H/2), ceil(W/2)), channel c*4 + dy*2 + dx holding
  pixel (2i + dy, 2j + dx) (zero past the edge). A stride-2 convolution of the original is a
  stride-1 convolution of this one with a quarter of the taps, four times the channels: the
  Cube pads C = 3 to 16 once instead of once per tap (the input pipeline lays out the
  network's input, like NCHW -> NC1HWC0 itself; real chips do it in AIPP [ASC-FMT] "C04").
- ``fractal_z``: conv weights (Cout, Cin, Kh, Kw) as (C1*Kh*Kw, N1, 16, C0), fractal rows
  ordered c1-major, then kh, then kw: the ``zn`` form of ``conv_weight_matrix``, so that
  ``img2col(fmap) @ conv_weight_matrix(w)`` is the convolution (isa ``Img2Col`` K order).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from isa.errors import IsaError

BLOCK_BYTES = 32  # C0 * itemsize: one fractal row [ASC-FMT]
M0 = 16  # fractal rows (M0 = N0 = 16) [ASC-FMT]

LAYOUTS: tuple[str, ...] = ("nd", "ndp", "nz", "zz", "zn", "nz_c", "nc1hwc0", "nc1hwc0_s2d",
                             "fractal_z")
"""Every layout name accepted by ``to_layout`` and ``from_layout``."""


def c0_for(itemsize: int) -> int:
    """Elements per 32 B fractal row (C0 = K0) for an element of ``itemsize`` bytes."""
    if itemsize not in (1, 2, 4):
        raise IsaError(f"layout: element size {itemsize} B is not 1, 2 or 4")
    return BLOCK_BYTES // itemsize


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _check_ndim(array: np.ndarray, ndim: int, layout: str) -> None:
    if array.ndim != ndim:
        raise IsaError(f"layout {layout}: expected a {ndim}-D array, got shape {array.shape}")


def _padded(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``array`` zero-padded at the end of every axis up to ``shape``."""
    out = np.zeros(shape, dtype=array.dtype)
    out[tuple(slice(0, n) for n in array.shape)] = array
    return out


def _itemsize(array: np.ndarray, itemsize: int | None) -> int:
    return array.dtype.itemsize if itemsize is None else itemsize


# --- nd -----------------------------------------------------------------------------------

def to_nd(array: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """Row-major storage: a contiguous copy of ``array``."""
    return np.ascontiguousarray(array).copy()


def from_nd(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_nd``: the first prod(shape) stored elements reshaped."""
    count = int(np.prod(shape))
    return np.ascontiguousarray(stored).reshape(-1)[:count].reshape(shape).copy()


def to_ndp(array: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """Row-major with the last axis padded to a multiple of C0 (0-D arrays become (1, C0))."""
    array = np.atleast_1d(np.asarray(array))
    c0 = c0_for(_itemsize(array, itemsize))
    return _padded(array, (*array.shape[:-1], _ceil(array.shape[-1], c0) * c0))


def from_ndp(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_ndp``."""
    if not shape:
        return np.ascontiguousarray(stored).reshape(-1)[:1].reshape(()).copy()
    return np.ascontiguousarray(stored[..., : shape[-1]]).reshape(shape).copy()


# --- matrices -----------------------------------------------------------------------------

def to_nz(mat: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(M, N) -> (ceil(N/C0), ceil16(M), C0): the L1 NZ form, zero-padded."""
    _check_ndim(mat, 2, "nz")
    c0 = c0_for(_itemsize(mat, itemsize))
    rows, cols = mat.shape
    m16, n1 = _ceil(rows, M0) * M0, _ceil(cols, c0)
    padded = _padded(mat, (m16, n1 * c0))
    return np.ascontiguousarray(padded.reshape(m16, n1, c0).transpose(1, 0, 2))


def from_nz(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_nz``: the logical (M, N) matrix."""
    _check_ndim(stored, 3, "nz")
    n1, m16, c0 = stored.shape
    rows, cols = shape
    return stored.transpose(1, 0, 2).reshape(m16, n1 * c0)[:rows, :cols].copy()


def to_zz(mat: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(M, K) -> (M1, K1, 16, K0): the L0A (Mmad A) form, zero-padded."""
    _check_ndim(mat, 2, "zz")
    k0 = c0_for(_itemsize(mat, itemsize))
    rows, depth = mat.shape
    m1, k1 = _ceil(rows, M0), _ceil(depth, k0)
    padded = _padded(mat, (m1 * M0, k1 * k0))
    return np.ascontiguousarray(padded.reshape(m1, M0, k1, k0).transpose(0, 2, 1, 3))


def from_zz(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_zz``: the logical (M, K) matrix."""
    _check_ndim(stored, 4, "zz")
    m1, k1, m0, k0 = stored.shape
    rows, depth = shape
    return stored.transpose(0, 2, 1, 3).reshape(m1 * m0, k1 * k0)[:rows, :depth].copy()


def to_zn(mat: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(K, N) -> (K1, N1, 16, K0): the L0B (Mmad B) form; fractal (k1, n1) row r holds the
    K0 values of column n1*16 + r."""
    _check_ndim(mat, 2, "zn")
    k0 = c0_for(_itemsize(mat, itemsize))
    depth, cols = mat.shape
    k1, n1 = _ceil(depth, k0), _ceil(cols, M0)
    padded = _padded(mat, (k1 * k0, n1 * M0))
    return np.ascontiguousarray(padded.reshape(k1, k0, n1, M0).transpose(0, 2, 3, 1))


def from_zn(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_zn``: the logical (K, N) matrix."""
    _check_ndim(stored, 4, "zn")
    k1, n1, n0, k0 = stored.shape
    depth, cols = shape
    return stored.transpose(0, 3, 1, 2).reshape(k1 * k0, n1 * n0)[:depth, :cols].copy()


def to_nz_c(mat: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(M, N) -> (N1, M1, 16, 16): the L0C result form (16x16 fractals for every dtype)."""
    _check_ndim(mat, 2, "nz_c")
    rows, cols = mat.shape
    m1, n1 = _ceil(rows, M0), _ceil(cols, M0)
    padded = _padded(mat, (m1 * M0, n1 * M0))
    return np.ascontiguousarray(padded.reshape(m1, M0, n1, M0).transpose(2, 0, 1, 3))


def from_nz_c(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_nz_c``: the logical (M, N) matrix."""
    _check_ndim(stored, 4, "nz_c")
    n1, m1, m0, n0 = stored.shape
    rows, cols = shape
    return stored.transpose(1, 2, 0, 3).reshape(m1 * m0, n1 * n0)[:rows, :cols].copy()


# --- convolution --------------------------------------------------------------------------

def to_nc1hwc0(fmap: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(N, C, H, W) -> (N, C1, H, W, C0), channels zero-padded to C1 * C0."""
    _check_ndim(fmap, 4, "nc1hwc0")
    c0 = c0_for(_itemsize(fmap, itemsize))
    n, c, h, w = fmap.shape
    c1 = _ceil(c, c0)
    padded = _padded(fmap, (n, c1 * c0, h, w))
    return np.ascontiguousarray(padded.reshape(n, c1, c0, h, w).transpose(0, 1, 3, 4, 2))


def from_nc1hwc0(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_nc1hwc0``: the logical (N, C, H, W) feature map."""
    _check_ndim(stored, 5, "nc1hwc0")
    n, c1, h, w, c0 = stored.shape
    channels = shape[1]
    return stored.transpose(0, 1, 4, 2, 3).reshape(n, c1 * c0, h, w)[:, :channels].copy()


def space_to_depth(fmap: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, 4C, ceil(H/2), ceil(W/2)): channel c*4 + dy*2 + dx of pixel (i, j)
    is pixel (2i + dy, 2j + dx) of channel c, zero past the edge."""
    _check_ndim(fmap, 4, "nc1hwc0_s2d")
    n, c, h, w = fmap.shape
    ho, wo = _ceil(h, 2), _ceil(w, 2)
    padded = _padded(fmap, (n, c, 2 * ho, 2 * wo))
    blocks = padded.reshape(n, c, ho, 2, wo, 2).transpose(0, 1, 3, 5, 2, 4)
    return np.ascontiguousarray(blocks.reshape(n, 4 * c, ho, wo))


def to_nc1hwc0_s2d(fmap: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(N, C, H, W) -> ``to_nc1hwc0(space_to_depth(fmap))``."""
    return to_nc1hwc0(space_to_depth(np.asarray(fmap)), _itemsize(fmap, itemsize))


def from_nc1hwc0_s2d(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_nc1hwc0_s2d``: the logical (N, C, H, W) feature map."""
    n, c, h, w = shape
    ho, wo = _ceil(h, 2), _ceil(w, 2)
    deep = from_nc1hwc0(stored, (n, 4 * c, ho, wo))
    blocks = deep.reshape(n, c, 2, 2, ho, wo).transpose(0, 1, 4, 2, 5, 3)
    return blocks.reshape(n, c, 2 * ho, 2 * wo)[:, :, :h, :w].copy()


def conv_weight_matrix(weight: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(Cout, Cin, Kh, Kw) -> the (C1*Kh*Kw*C0, Cout) B matrix of a convolution, row
    k = ((c1*Kh + i)*Kw + j)*C0 + c0 (Cin zero-padded to C1*C0), the K order of isa Img2Col."""
    _check_ndim(weight, 4, "fractal_z")
    c0 = c0_for(_itemsize(weight, itemsize))
    cout, cin, kh, kw = weight.shape
    c1 = _ceil(cin, c0)
    padded = _padded(weight, (cout, c1 * c0, kh, kw))
    grouped = padded.reshape(cout, c1, c0, kh, kw).transpose(1, 3, 4, 2, 0)
    return np.ascontiguousarray(grouped.reshape(c1 * kh * kw * c0, cout))


def to_fractal_z(weight: np.ndarray, itemsize: int | None = None) -> np.ndarray:
    """(Cout, Cin, Kh, Kw) -> (C1*Kh*Kw, N1, 16, C0): ``to_zn(conv_weight_matrix(weight))``."""
    size = _itemsize(weight, itemsize)
    return to_zn(conv_weight_matrix(weight, size), size)


def from_fractal_z(stored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``to_fractal_z``: the logical (Cout, Cin, Kh, Kw) weights."""
    _check_ndim(stored, 4, "fractal_z")
    cout, cin, kh, kw = shape
    c0 = stored.shape[3]
    c1 = _ceil(cin, c0)
    depth = stored.shape[0] * c0
    mat = from_zn(stored, (depth, cout))
    grouped = mat.reshape(c1, kh, kw, c0, cout).transpose(4, 0, 3, 1, 2)
    return grouped.reshape(cout, c1 * c0, kh, kw)[:, :cin].copy()


# --- dispatch -----------------------------------------------------------------------------

TO_LAYOUT_RULES: dict[str, Callable[[np.ndarray, int | None], np.ndarray]] = {
    "nd": to_nd,
    "ndp": to_ndp,
    "nz": to_nz,
    "zz": to_zz,
    "zn": to_zn,
    "nz_c": to_nz_c,
    "nc1hwc0": to_nc1hwc0,
    "nc1hwc0_s2d": to_nc1hwc0_s2d,
    "fractal_z": to_fractal_z,
}

FROM_LAYOUT_RULES: dict[str, Callable[[np.ndarray, tuple[int, ...]], np.ndarray]] = {
    "nd": from_nd,
    "ndp": from_ndp,
    "nz": from_nz,
    "zz": from_zz,
    "zn": from_zn,
    "nz_c": from_nz_c,
    "nc1hwc0": from_nc1hwc0,
    "nc1hwc0_s2d": from_nc1hwc0_s2d,
    "fractal_z": from_fractal_z,
}


def _rule(table: dict, layout: str) -> Callable:
    try:
        return table[layout]
    except KeyError:
        raise IsaError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})") from None


def to_layout(array: np.ndarray, layout: str, dtype_itemsize: int | None = None) -> np.ndarray:
    """The stored form of logical ``array`` in ``layout``; ``dtype_itemsize`` (default: the
    array's own) sets C0, e.g. 2 for bf16 values held as float32."""
    return _rule(TO_LAYOUT_RULES, layout)(np.asarray(array), dtype_itemsize)


def from_layout(stored: np.ndarray, layout: str, logical_shape: tuple[int, ...]) -> np.ndarray:
    """The logical array of ``logical_shape`` held in ``stored`` (shaped as ``to_layout``
    returns it; a flat array is reshaped with ``layout_shape``'s rule for its element size)."""
    stored = np.asarray(stored)
    if stored.ndim == 1 and layout != "nd":
        shape = layout_shape(tuple(logical_shape), layout, stored.dtype.itemsize)
        stored = stored[: int(np.prod(shape))].reshape(shape)
    return _rule(FROM_LAYOUT_RULES, layout)(stored, tuple(logical_shape))


def layout_shape(
    logical_shape: tuple[int, ...], layout: str, dtype_itemsize: int
) -> tuple[int, ...]:
    """The stored shape of a ``logical_shape`` array in ``layout`` (its byte size is the
    product times ``dtype_itemsize``)."""
    probe = np.zeros(logical_shape, dtype=np.uint8)
    return tuple(to_layout(probe, layout, dtype_itemsize).shape)
