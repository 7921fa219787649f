"""Register fragments of ``mma.m16n8k16`` (fp16 A/B, fp32 C/D), exactly PTX's layout.

For lane ``l`` let ``g = l // 4`` (groupID) and ``t = l % 4`` (threadID_in_group); PTX ISA,
"Matrix Fragments for mma.m16n8k16 with floating point type":

* A (16 x 16, row-major), 8 fp16 values a0..a7 in 4 registers (a0,a1 in the first, ...):
  row = g + 8 * ((i // 2) % 2), col = 2 t + i % 2 + 8 * (i // 4).
* B (16 x 8, K x N), 4 fp16 values b0..b3 in 2 registers: k = 2 t + i % 2 + 8 * (i // 2), n = g.
* C and D (16 x 8), 4 fp32 values c0..c3 in 4 registers: row = g + 8 * (i // 2), col = 2 t + i % 2.

So a thread's A registers hold two adjacent fp16 of one row: a compiler fills them with 32-bit
``ld.shared`` from a row-major tile; B registers hold two adjacent k of one column, i.e. a
32-bit load from a column-major (N x K, "B transposed") tile.
"""

from __future__ import annotations

import numpy as np

from isa.simt.types import LANES

M, N, K = 16, 8, 16

_LANE = np.arange(LANES)[:, None]
_G = _LANE // 4
_T = _LANE % 4
_A_I = np.arange(8)[None, :]
_B_I = np.arange(4)[None, :]

A_ROWS = (_G + 8 * ((_A_I // 2) % 2)).astype(np.intp)
"""Row of A held by (lane, element i) for i in 0..7; element i lives in register i // 2."""
A_COLS = (2 * _T + _A_I % 2 + 8 * (_A_I // 4)).astype(np.intp)
B_ROWS = (2 * _T + _B_I % 2 + 8 * (_B_I // 2)).astype(np.intp)
"""k index of B held by (lane, element i) for i in 0..3; element i lives in register i // 2."""
B_COLS = np.broadcast_to(_G, (LANES, 4)).astype(np.intp)
C_ROWS = (_G + 8 * (_B_I // 2)).astype(np.intp)
"""Row of C/D held by (lane, element i) for i in 0..3; element i is register i."""
C_COLS = (2 * _T + _B_I % 2).astype(np.intp)


def _halves_to_regs(values: np.ndarray) -> np.ndarray:
    """(32, 2n) fp16 -> (n, 32) uint32 registers, element 2j in the low half of register j."""
    packed = np.ascontiguousarray(values.astype(np.float16)).view(np.uint32)  # (32, n)
    return np.ascontiguousarray(packed.T)


def _regs_to_halves(regs: np.ndarray) -> np.ndarray:
    """(n, 32) uint32 registers -> (32, 2n) fp16 values."""
    return np.ascontiguousarray(regs.T).view(np.float16)


def pack_a(a: np.ndarray) -> np.ndarray:
    """A 16 x 16 matrix as its 4 fragment registers, shape (4, 32) uint32."""
    return _halves_to_regs(np.asarray(a, dtype=np.float16)[A_ROWS, A_COLS])


def pack_b(b: np.ndarray) -> np.ndarray:
    """A 16 x 8 (K x N) matrix as its 2 fragment registers, shape (2, 32) uint32."""
    return _halves_to_regs(np.asarray(b, dtype=np.float16)[B_ROWS, B_COLS])


def pack_c(c: np.ndarray) -> np.ndarray:
    """A 16 x 8 fp32 matrix as its 4 fragment registers, shape (4, 32) uint32."""
    values = np.asarray(c, dtype=np.float32)[C_ROWS, C_COLS]  # (32, 4)
    return np.ascontiguousarray(values.T).view(np.uint32)


def unpack_a(regs: np.ndarray) -> np.ndarray:
    """(4, 32) uint32 fragment registers -> the 16 x 16 fp16 matrix."""
    out = np.zeros((M, K), dtype=np.float16)
    out[A_ROWS, A_COLS] = _regs_to_halves(regs)
    return out


def unpack_b(regs: np.ndarray) -> np.ndarray:
    """(2, 32) uint32 fragment registers -> the 16 x 8 fp16 matrix."""
    out = np.zeros((K, N), dtype=np.float16)
    out[B_ROWS, B_COLS] = _regs_to_halves(regs)
    return out


def unpack_c(regs: np.ndarray) -> np.ndarray:
    """(4, 32) uint32 fragment registers -> the 16 x 8 fp32 matrix."""
    out = np.zeros((M, N), dtype=np.float32)
    out[C_ROWS, C_COLS] = np.ascontiguousarray(regs).view(np.float32).T
    return out


def mma_m16n8k16(a_regs: np.ndarray, b_regs: np.ndarray, c_regs: np.ndarray) -> np.ndarray:
    """The D registers (4, 32) of ``D = A @ B + C`` with fp32 products and accumulation."""
    a = unpack_a(a_regs).astype(np.float32)
    b = unpack_b(b_regs).astype(np.float32)
    return pack_c(a @ b + unpack_c(c_regs))
