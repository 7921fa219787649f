"""`GpuKernelRun`: the shared `KernelRun` record plus what only a SIMT GPU has.

The common fields (cycles, launch cycles, pipes busy, bytes by path and level, instruction
counts, FLOPs, timeline events, outputs) are `hw.stats.KernelRun`, the DaVinci engine's
record too, so reports treat both targets alike; GPU runs add issue and stall cycles, hit
rates, occupancy and sampling.
Pipes: the sub-core function units (int, fp32, fp16, sfu, tensor, lsu, branch; one per
sub-core), ``l1tex`` (the SM's L1/shared data path), ``l2`` and ``dram`` (chip-wide queues).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from hw.stats import KernelRun


def _sum(a: Mapping[str, int], b: Mapping[str, int]) -> Mapping[str, int]:
    total: Counter[str] = Counter(a)
    total.update(b)
    return MappingProxyType(dict(total))


@dataclass(frozen=True)
class GpuKernelRun(KernelRun):
    """One kernel on one GPU. ``stall_cycles`` counts sub-core cycles without an issue by
    reason (`hw.simt.subcore.STALL_REASONS`); ``issue_cycles`` the cycles with one.
    ``sampled`` says the run simulated ``sampled_fraction`` of the CTAs on a subset of SMs and
    extrapolated every count and the cycles (see `hw.simt.run`)."""

    issue_cycles: int = 0
    stall_cycles: Mapping[str, int] = field(default_factory=dict)
    subcore_cycles: int = 0
    l1_hit_rate: float = 0.0
    l2_hit_rate: float = 0.0
    achieved_occupancy: float = 0.0
    theoretical_occupancy: float = 0.0
    occupancy_limiter: str = ""
    ctas: int = 0
    ctas_simulated: int = 0
    sampled: bool = False
    sampled_fraction: float = 1.0
    memory_counts: Mapping[str, int] = field(default_factory=dict)

    def utilizations(self) -> Mapping[str, float]:
        """Unit name -> busy fraction in [0, 1] (DESIGN.md JSON ``utilization`` keys)."""
        return {name: min(1.0, self.utilization(name)) for name in self.pipes}

    def __add__(self, other: KernelRun) -> GpuKernelRun:
        """Sequential composition; GPU-only figures are combined cycle-weighted."""
        base = KernelRun.__add__(self, other)
        if not isinstance(other, GpuKernelRun):
            return GpuKernelRun(**{f.name: getattr(base, f.name) for f in fields(KernelRun)})
        cycles = max(1, self.cycles + other.cycles)

        def weighted(name: str) -> float:
            return (getattr(self, name) * self.cycles + getattr(other, name) * other.cycles) \
                / cycles

        return GpuKernelRun(
            **{f.name: getattr(base, f.name) for f in fields(KernelRun)},
            issue_cycles=self.issue_cycles + other.issue_cycles,
            stall_cycles=_sum(self.stall_cycles, other.stall_cycles),
            subcore_cycles=self.subcore_cycles + other.subcore_cycles,
            l1_hit_rate=weighted("l1_hit_rate"),
            l2_hit_rate=weighted("l2_hit_rate"),
            achieved_occupancy=weighted("achieved_occupancy"),
            theoretical_occupancy=weighted("theoretical_occupancy"),
            occupancy_limiter=self.occupancy_limiter,
            ctas=self.ctas + other.ctas,
            ctas_simulated=self.ctas_simulated + other.ctas_simulated,
            sampled=self.sampled or other.sampled,
            sampled_fraction=min(self.sampled_fraction, other.sampled_fraction),
            memory_counts=_sum(self.memory_counts, other.memory_counts),
        )
