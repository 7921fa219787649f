"""Device data layouts: the names, which target uses which, and their padded sizes in memory.

DaVinci formats (facts/davinci.md, "Data formats"; Huawei CANN "Data Formats" guide):

* ``NC1HWC0``: 4-D activations; C is split into C1 = ceil(C / C0) blocks of C0 channels, C0
  = 32 bytes / element size (16 for fp16, 32 for int8, 8 for fp32), zero-padded.
* ``FRACTAL_Z``: conv weights as (C1 * Kh * Kw, N1, N0 = 16, C0): Cin padded to C0 and Cout
  padded to 16.
* ``NZ`` (FRACTAL_NZ): matrices as 16 x C0 fractals; the last two dims are padded to
  multiples of 16 (rows) and C0 (columns; 16 for fp16).

SIMT uses ``NHWC`` for 4-D activations (channels innermost, as cuDNN's fastest tensor-core
convolutions want) and plain ``ND`` otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from framework import TensorType

from .errors import CompileError

ND = "ND"
NCHW = "NCHW"
NHWC = "NHWC"
NC1HWC0 = "NC1HWC0"
FRACTAL_Z = "FRACTAL_Z"
NZ = "NZ"

LAYOUTS = (ND, NCHW, NHWC, NC1HWC0, FRACTAL_Z, NZ)
"""Every layout tag the compiler assigns or understands."""

CUBE_BLOCK = 16
"""Fractal edge along M and N (the Cube computes 16 x 16 x C0 fractals; facts/davinci.md)."""

BLOCK_BYTES = 32
"""The Vector unit's data block: C0 = BLOCK_BYTES / element size (facts/davinci.md)."""


def c0(dtype: str) -> int:
    """Channels per C0 block for ``dtype``: 16 for fp16, 32 for int8, 8 for fp32."""
    return max(1, BLOCK_BYTES // np.dtype(dtype).itemsize)


def padded_shape(t: TensorType, dtype: str | None = None) -> tuple[int, ...]:
    """The shape of ``t`` as stored in its layout, padding included (for ``dtype`` storage).

    NC1HWC0 -> (N, C1, H, W, C0); FRACTAL_Z -> (C1 * Kh * Kw, N1, 16, C0); NZ -> the batch
    dims, then (cols / C0, rows / 16, 16, C0); ND, NCHW and NHWC store no padding.
    """
    dt = dtype or t.dtype
    block = c0(dt)
    if t.layout in (ND, NCHW, NHWC):
        return t.shape
    if t.layout == NC1HWC0:
        _require_rank(t, 4)
        n, c, h, w = t.shape
        return (n, -(-c // block), h, w, block)
    if t.layout == FRACTAL_Z:
        _require_rank(t, 4)
        cout, cin, kh, kw = t.shape
        return (-(-cin // block) * kh * kw, -(-cout // CUBE_BLOCK), CUBE_BLOCK, block)
    if t.layout == NZ:
        if t.rank < 2:
            raise CompileError(f"layout NZ needs rank >= 2, got {t}")
        rows, cols = t.shape[-2:]
        return t.shape[:-2] + (-(-cols // block), -(-rows // CUBE_BLOCK), CUBE_BLOCK, block)
    raise CompileError(f"unknown layout {t.layout!r} (known: {LAYOUTS})")


def _require_rank(t: TensorType, rank: int) -> None:
    if t.rank != rank:
        raise CompileError(f"layout {t.layout} needs rank {rank}, got {t}")


def device_nbytes(t: TensorType, dtype: str | None = None) -> int:
    """Bytes ``t`` occupies on the device in its layout, stored as ``dtype`` (default: its own
    dtype), including the layout's padding."""
    dt = dtype or t.dtype
    return math.prod(padded_shape(t, dt)) * np.dtype(dt).itemsize

