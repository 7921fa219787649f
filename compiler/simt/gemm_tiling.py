"""Choosing a GEMM tile: a small analytic cost model over a fixed candidate list, within the
GPU's occupancy limits (registers, shared memory, threads, CTAs per SM).

Estimated cycles = max(tensor time, L2 -> SM traffic time, DRAM time, latency chain) + a
fixed prologue and epilogue cost. The latency chain is what small grids (GEMV-like products)
hit: each CTA walks its K tiles one after another, and with ``stages`` buffers a new tile's
DRAM latency is hidden behind only ``stages - 1`` tiles of work. Tensor time counts the CTAs
the busiest SM runs (wave quantisation) at the SM's mma rate, derated when only one CTA fits
per SM (its barriers then idle the tensor pipes, as measured with the engine: 128x256 at one
CTA/SM reached 0.71 of peak, 128x128 at two 0.96).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import CompileError
from compiler.simt.gemm import GemmSpec, GemmTile, check_tile
from compiler.simt.target import GpuTarget

CANDIDATES = (
    GemmTile(128, 256, 32, 2, 4, 3),
    GemmTile(128, 128, 32, 2, 2, 3),
    GemmTile(64, 128, 32, 2, 2, 3),
    GemmTile(128, 64, 32, 2, 2, 3),
    GemmTile(64, 64, 32, 2, 2, 3),
    GemmTile(32, 64, 32, 1, 2, 3),
    GemmTile(16, 64, 32, 1, 4, 3),
    GemmTile(64, 64, 16, 2, 2, 3),
    GemmTile(32, 64, 16, 1, 2, 3),
    GemmTile(16, 64, 16, 1, 2, 3),
    GemmTile(16, 32, 32, 1, 2, 4),
    GemmTile(16, 16, 32, 1, 1, 4),
    GemmTile(16, 32, 16, 1, 2, 4),
    GemmTile(16, 16, 16, 1, 1, 4),
)
"""Tiles tried, largest first (CUTLASS's default SM80 tile shapes and smaller ones)."""

SINGLE_CTA_EFFICIENCY = 0.75
FIXED_CYCLES = 3000  # prologue (first DRAM loads), epilogue stores, launch ramp


@dataclass(frozen=True, slots=True)
class TileChoice:
    """The chosen tile with its occupancy and estimated cycles."""

    tile: GemmTile
    ctas_per_sm: int
    cycles: float

    def describe(self) -> str:
        return (f"{self.tile.describe()}; {self.ctas_per_sm} CTA/SM; "
                f"est. {self.cycles:,.0f} cycles")


def ctas_per_sm(target: GpuTarget, tile: GemmTile, regs: int, shared: int) -> int:
    """CTAs of ``tile`` one SM holds (0 if one does not fit)."""
    warps = tile.threads // 32
    reg_warp = -(-regs * 32 // 256) * 256
    limits = [target.max_ctas_per_sm, target.max_threads_per_sm // tile.threads,
              target.max_warps_per_sm // warps, target.regs_per_sm // (reg_warp * warps)]
    if shared:
        limits.append(max(target.shared_carveouts_kib) * 1024 // (shared + 1024))
    return max(0, min(limits))


def estimate(target: GpuTarget, spec: GemmSpec, tile: GemmTile) -> TileChoice | None:
    """The estimate for ``tile`` (None when it cannot run ``spec`` on ``target``)."""
    if check_tile(spec, tile):
        return None
    regs, shared = tile.regs_estimate(), tile.shared_bytes(spec.b_layout)
    if regs > target.max_regs_per_thread or shared > target.max_shared_per_cta_bytes:
        return None
    cps = ctas_per_sm(target, tile, regs, shared)
    if cps == 0:
        return None
    ctas = -(-spec.m // tile.bm) * -(-spec.n // tile.bn) * spec.batch
    per_sm = -(-ctas // target.sms)
    rate = target.tensor_fma_per_cycle_per_sm * (SINGLE_CTA_EFFICIENCY if cps == 1 else 1.0)
    tensor = per_sm * tile.bm * tile.bn * spec.k / rate
    l2 = ctas * (tile.bm + tile.bn) * spec.k * 2 / target.l2_bytes_per_cycle
    dram = spec.batch * (spec.m * spec.k + spec.k * spec.n + spec.m * spec.n) * 2 \
        / target.dram_bytes_per_cycle
    k_tiles = spec.k // tile.bk
    waves = -(-per_sm // cps)
    latency = waves * k_tiles * target.dram_latency_cycles / (tile.stages - 1)
    return TileChoice(tile, cps, max(tensor, l2, dram, latency) + FIXED_CYCLES + 40 * k_tiles)


def choose_tile(target: GpuTarget, spec: GemmSpec) -> TileChoice:
    """The candidate with the fewest estimated cycles; CompileError if none fits."""
    options = [c for c in (estimate(target, spec, t) for t in CANDIDATES) if c is not None]
    if not options:
        raise CompileError(f"{spec.name}: no GEMM tile fits M={spec.m}, N={spec.n}, "
                           f"K={spec.k} (K must be a multiple of 16"
                           f"{', N of 8' if spec.b_layout == 'kn' else ''})")
    return min(options, key=lambda c: c.cycles)
