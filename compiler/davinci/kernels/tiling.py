"""Choosing Cube tiles with a cost model, and the record that explains the choice.

A matrix product C[M, N] = A[M, K] . B[K, N] runs as output tiles of ``bm x bn`` spread over
the cores; each tile streams K through L1 in chunks of ``kc`` and through L0A/L0B in slices of
``bk``, both double-buffered, accumulating in L0C. The constraints are the buffer sizes (the
Ascend C Matmul tiling rules, facts/davinci.md §5 [ASC-TILING]); the estimate takes, per tile,
the slowest of the Cube, the GM loads (per-core share of HBM or the MTE2 path, whichever is
narrower), the L1->L0 loads and the epilogue, since the pipes overlap, times the number of
waves of tiles over the cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from compiler.errors import CompileError

FP16 = 2
FP32 = 4
SIZES = (16, 32, 64, 128, 256)


def ceil_to(x: int, m: int) -> int:
    return -(-x // m) * m


@dataclass(frozen=True, slots=True)
class Tiling:
    """A tiling of one matrix product, with the estimate that chose it."""

    m: int
    n: int
    k: int
    batch: int
    bm: int
    bn: int
    bk: int
    kc: int
    cores: int
    tiles: int
    l0c_buffers: int
    estimate_cycles: int
    bound: str  # which resource the estimate says limits a tile

    def explain(self) -> str:
        return (f"tiles {self.bm}x{self.bn} (k slice {self.bk}, L1 chunk {self.kc}) over "
                f"{self.tiles} tiles on {self.cores} cores, L0C x{self.l0c_buffers}; "
                f"estimate {self.estimate_cycles} cycles, {self.bound}-bound")


def _fits(target, bm: int, bn: int, bk: int, kc: int, ub_extra: int,
          bias_in_cube: bool = False) -> int:
    """L0C buffers (2 or 1) if the tiling fits the buffers, else 0. ``bias_in_cube``
    reserves the ones/bias blocks of gemm.emit_cube_bias in L0A/L0B."""
    reserve_a, reserve_b = (bm * 16 * FP16, bn * 16 * FP16) if bias_in_cube else (0, 0)
    if 2 * bm * bk * FP16 + reserve_a > target.l0a_bytes or \
            2 * bk * bn * FP16 + reserve_b > target.l0b_bytes:
        return 0
    if 2 * (bm + bn) * kc * FP16 > target.l1_bytes:
        return 0
    if bm * bn * FP16 * 2 + ub_extra > target.ub_bytes:
        return 0
    if 2 * bm * bn * FP32 <= target.l0c_bytes:
        return 2
    return 1 if bm * bn * FP32 <= target.l0c_bytes else 0


def choose_tiling(target, m: int, n: int, k: int, batch: int = 1,
                  epilogue_bytes_per_element: int = 0, bias_in_cube: bool = False) -> Tiling:
    """The tiling with the lowest estimated time (ties: fewer, larger tiles)."""
    kp = ceil_to(k, 16)
    best: Tiling | None = None
    hbm_per_cycle = target.hbm_bytes_per_cycle
    for bm in SIZES:
        if bm > 16 and bm // 2 >= ceil_to(m, 16):
            continue
        for bn in SIZES:
            if bn > 16 and bn // 2 >= ceil_to(n, 16):
                continue
            ub_extra = bm * bn * epilogue_bytes_per_element + bn * FP16
            for bk in (16, 32, 64, 128):
                if bk > kp:
                    continue
                for kc in sorted({min(kp, ceil_to(c, bk)) for c in (bk, 4 * bk, 8 * bk, kp)}):
                    buffers = _fits(target, bm, bn, bk, kc, ub_extra, bias_in_cube)
                    if not buffers:
                        continue
                    estimate = _estimate(target, m, n, kp, batch, bm, bn, bk, kc,
                                         hbm_per_cycle, buffers)
                    if best is None or (estimate[0], -bm * bn) < (best.estimate_cycles,
                                                                   -best.bm * best.bn):
                        best = Tiling(m, n, k, batch, bm, bn, bk, kc, estimate[2],
                                      estimate[3], buffers, estimate[0], estimate[1])
    if best is None:
        raise CompileError(f"matmul {m}x{k}x{n}: no tiling fits the buffers of {target.name}")
    return best


def _estimate(target, m, n, kp, batch, bm, bn, bk, kc, hbm_per_cycle, buffers):
    tiles = batch * math.ceil(m / bm) * math.ceil(n / bn)
    cores = min(target.cores, tiles)
    cube = (bm // 16) * (bn // 16) * (kp // 16)
    gm_bytes = (bm + bn) * kp * FP16
    gm_rate = min(target.gm_to_l1_bytes_per_cycle, hbm_per_cycle / cores)
    mte2 = gm_bytes / gm_rate + target.gm_latency_cycles * (2 * kp // kc)
    mte1 = (bm * kp * FP16 / target.l1_to_l0a_bytes_per_cycle
            + kp * bn * FP16 / target.l1_to_l0b_bytes_per_cycle
            + target.local_latency_cycles * (kp // bk) * (bk // 16) * 2)
    out_rate = target.l0c_to_ub_bytes_per_cycle or target.l0c_to_gm_bytes_per_cycle
    epilogue = bm * bn * FP32 / out_rate + bm * bn * FP16 / target.ub_to_gm_bytes_per_cycle
    if buffers == 1:
        cube += epilogue  # without a second L0C buffer the epilogue cannot overlap the Cube
    # the scalar unit issues one instruction per cycle, and every slice and chunk costs a
    # flag hand-over between pipes (an estimate of a few cycles each)
    instructions = (bm // 16 + bn // 16 + 2) * (kp // bk) + (bm // 16 + bn // 16) * (kp // kc)
    parts = {"cube": cube, "mte2": mte2, "mte1": mte1, "epilogue": epilogue,
             "issue": 4 * instructions}
    bound = max(parts, key=parts.get)
    waves = math.ceil(tiles / cores)
    # issue and hand-overs overlap the pipes only partly: charge them once more, which also
    # steers the choice towards fewer, larger instructions among near-equal tilings
    total = waves * (parts[bound] + instructions) + mte2 / max(1, kp // kc) + epilogue
    return int(total), bound, cores, tiles
