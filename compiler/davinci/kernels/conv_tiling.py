"""Tiling of a convolution on the Cube (implicit GEMM through img2col).

Per image, the output is the matrix Y[pixels, Cout] = img2col(X)[pixels, K] . W[K, Cout] with
K = C1 * Kh * Kw * 16. A tile is ``rows`` whole output rows by ``bn`` output channels; L1 holds
the input rows that tile reads (all C1 slices) and a chunk of the FRACTAL_Z weights; L0A/L0B
slices of ``bk`` are double-buffered as in the matrix product (see tiling.py for the cost
model's reasoning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from compiler.davinci.kernels.tiling import FP16, FP32, ceil_to
from compiler.errors import CompileError


@dataclass(frozen=True, slots=True)
class ConvShape:
    """Geometry of one convolution (fp16, NC1HWC0)."""

    n: int
    c1: int
    h: int
    w: int
    cout: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pl: int
    pb: int
    pr: int
    ho: int
    wo: int
    depthwise: bool = False

    @property
    def k(self) -> int:
        """The K of one output block: every C1 slice, or one slice for depthwise."""
        return (1 if self.depthwise else self.c1) * self.kh * self.kw * 16

    def window_rows(self, rows: int) -> int:
        """Input rows ``rows`` output rows read (at most)."""
        return min(self.h, (rows - 1) * self.sh + self.dh * (self.kh - 1) + 1)


@dataclass(frozen=True, slots=True)
class ConvTiling:
    rows: int
    bn: int
    bk: int
    kc: int
    cores: int
    tiles: int
    l0c_buffers: int
    estimate_cycles: int
    bound: str

    def explain(self) -> str:
        return (f"tiles of {self.rows} output rows x {self.bn} channels (k slice {self.bk}, "
                f"weight chunk {self.kc}) over {self.tiles} tiles on {self.cores} cores, "
                f"L0C x{self.l0c_buffers}; estimate {self.estimate_cycles} cycles, "
                f"{self.bound}-bound")


def choose_conv_tiling(target, s: ConvShape, ub_extra_per_element: int = 0,
                       bias_in_cube: bool = False) -> ConvTiling:
    best: ConvTiling | None = None
    kp = s.k
    cout16 = ceil_to(s.cout, 16)
    bns = (16,) if s.depthwise else tuple(b for b in (16, 32, 64, 128, 256)
                                          if b == 16 or b // 2 < cout16)
    for rows in sorted({1, 2, 4, 7, 8, 14, 16, 28, 32, 56, s.ho} & set(range(1, s.ho + 1))):
        bm16 = ceil_to(rows * s.wo, 16)
        if bm16 > 4096:
            continue
        window = (1 if s.depthwise else s.c1) * s.window_rows(rows) * s.w * 32
        if s.depthwise:
            window = s.c1 * s.window_rows(rows) * s.w * 32
        for bn in bns:
            for bk in (16, 32, 64, 128, 144, 256, 288, 576):
                reserve_a, reserve_b = (bm16 * 32, bn * 32) if bias_in_cube else (0, 0)
                if bk % 16 or bk > kp or 2 * bm16 * bk * FP16 + reserve_a > target.l0a_bytes:
                    continue
                if 2 * bk * bn * FP16 + reserve_b > target.l0b_bytes:
                    continue
                for kc in sorted({min(kp, ceil_to(c, bk)) for c in (bk, 4 * bk, kp)}):
                    buffers = _fits(target, s, bm16, bn, kc, window, ub_extra_per_element)
                    if not buffers:
                        continue
                    est = _estimate(target, s, rows, bm16, bn, bk, kc, kp, window, buffers)
                    if best is None or (est[0], -bm16 * bn) < (best.estimate_cycles,
                                                               -ceil_to(best.rows * s.wo, 16)
                                                               * best.bn):
                        best = ConvTiling(rows, bn, bk, kc, est[2], est[3], buffers, est[0],
                                          est[1])
    if best is None:
        raise CompileError(f"conv {s}: no tiling fits the buffers of {target.name}")
    return best


def _fits(target, s: ConvShape, bm16: int, bn: int, kc: int, window: int,
          ub_extra: int) -> int:
    if 2 * window + 2 * kc * bn * FP16 > target.l1_bytes:
        return 0
    if 2 * bm16 * bn * FP16 + bm16 * bn * ub_extra + bn * FP16 > target.ub_bytes:
        return 0
    if 2 * bm16 * bn * FP32 <= target.l0c_bytes:
        return 2
    return 1 if bm16 * bn * FP32 <= target.l0c_bytes else 0


def _estimate(target, s: ConvShape, rows, bm16, bn, bk, kc, kp, window, buffers):
    row_tiles = math.ceil(s.ho / rows)
    col_tiles = math.ceil(s.cout / bn) if not s.depthwise else s.c1
    tiles = s.n * row_tiles * col_tiles
    cores = min(target.cores, tiles)
    cube = (bm16 // 16) * (bn // 16) * (kp // 16)
    rate = min(target.gm_to_l1_bytes_per_cycle, target.hbm_bytes_per_cycle / cores)
    # a core takes a contiguous block of tiles, channels innermost, so it reloads the input
    # rows only when its block moves to new rows
    per_core = math.ceil(tiles / cores)
    window_loads = max(1, math.ceil(per_core / col_tiles))
    mte2 = (window * window_loads / per_core + kp * bn * FP16) / rate
    img2col_rate = target.l1_to_l0a_bytes_per_cycle
    if s.sw > 1:
        img2col_rate = min(img2col_rate, max(32, 512 // (2 * s.sw + 1)))
    mte1 = bm16 * kp * FP16 / img2col_rate + kp * bn * FP16 / target.l1_to_l0b_bytes_per_cycle
    out_rate = target.l0c_to_ub_bytes_per_cycle or target.l0c_to_gm_bytes_per_cycle
    epilogue = bm16 * bn * FP32 / out_rate + bm16 * bn * FP16 / target.ub_to_gm_bytes_per_cycle
    if buffers == 1:
        cube += epilogue
    # the scalar unit issues one instruction per cycle, and every slice and chunk costs a
    # flag hand-over between pipes (an estimate of a few cycles each)
    instructions = 3 * math.ceil(kp / bk) + 2 * math.ceil(kp / kc) + 8
    parts = {"cube": cube, "mte2": mte2, "mte1": mte1, "epilogue": epilogue,
             "issue": 4 * instructions}
    bound = max(parts, key=parts.get)
    # issue and hand-overs overlap the pipes only partly: charge them once more, which also
    # steers the choice towards fewer, larger instructions among near-equal tilings
    total = per_core * (parts[bound] + instructions) + mte2 + epilogue \
        + target.gm_latency_cycles
    return int(total), bound, cores, tiles
