"""How many CTAs of a kernel fit on one SM at once (the CUDA occupancy calculation)."""

from __future__ import annotations

from dataclasses import dataclass

from hw.errors import SimulationError
from hw.simt.config import GpuConfig
from isa.simt import Kernel


@dataclass(frozen=True, slots=True)
class Occupancy:
    """Resident CTAs per SM, the resource that limits them, and the warps they bring."""

    ctas_per_sm: int
    limiter: str
    warps_per_cta: int
    max_warps_per_sm: int

    @property
    def warps_per_sm(self) -> int:
        return self.ctas_per_sm * self.warps_per_cta

    @property
    def theoretical(self) -> float:
        """Resident warps / the SM's warp slots."""
        return self.warps_per_sm / self.max_warps_per_sm

    def shared_per_sm_bytes(self, cfg: GpuConfig, shared_per_cta_bytes: int) -> int:
        return self.ctas_per_sm * (shared_per_cta_bytes + cfg.shared_reserved_per_cta_bytes)


def occupancy(cfg: GpuConfig, kernel: Kernel) -> Occupancy:
    """CTAs per SM under the block, warp, thread, register and shared-memory limits; a CTA
    that fits nowhere raises SimulationError naming the resource."""
    program, launch = kernel.program, kernel.launch
    warps = launch.warps_per_cta
    # registers are allocated per warp in units of reg_alloc_unit (CUDA occupancy calculator)
    unit = cfg.reg_alloc_unit
    regs_per_warp = -(-program.regs * 32 // unit) * unit
    shared = program.shared_bytes + cfg.shared_reserved_per_cta_bytes
    max_shared = max(cfg.shared_carveouts_kib) * 1024
    limits = {
        "blocks": cfg.max_ctas_per_sm,
        "warps": cfg.max_warps_per_sm // warps,
        "threads": cfg.max_threads_per_sm // launch.threads_per_cta,
        "registers": cfg.regs_per_sm // (regs_per_warp * warps),
        "shared": max_shared // shared if program.shared_bytes else cfg.max_ctas_per_sm,
    }
    limiter = min(limits, key=lambda name: limits[name])
    if limits[limiter] == 0:
        need = {
            "registers": f"{regs_per_warp * warps} registers of {cfg.regs_per_sm}",
            "shared": f"{shared} B shared of {max_shared}",
        }.get(limiter, f"{launch.threads_per_cta} threads")
        raise SimulationError(f"{program.name}: a CTA does not fit on a {cfg.name} SM: "
                              f"needs {need}")
    return Occupancy(limits[limiter], limiter, warps, cfg.max_warps_per_sm)
