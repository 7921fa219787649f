"""What the SIMT lowering needs to know about a GPU.

The compiler may not import hw/, so it declares the attributes it reads; hw.simt's GpuConfig
provides them all (structural typing). `is_gpu` tells a GPU config from a DaVinci one by the
attribute only a GPU has (``sms``).
"""

from __future__ import annotations

from typing import Any, Protocol


class GpuTarget(Protocol):
    """The GPU parameters that shape code generation and tile choice."""

    name: str
    sms: int
    freq_hz: float
    subcores_per_sm: int
    max_warps_per_sm: int
    max_threads_per_sm: int
    max_ctas_per_sm: int
    max_threads_per_cta: int
    regs_per_sm: int
    max_regs_per_thread: int
    max_shared_per_cta_bytes: int
    shared_carveouts_kib: tuple[int, ...]
    l2_bytes_per_cycle: float
    dram_latency_cycles: int

    @property
    def dram_bytes_per_cycle(self) -> float: ...

    @property
    def launch_overhead_cycles(self) -> int: ...

    @property
    def tensor_fma_per_cycle_per_sm(self) -> float: ...


def is_gpu(target: Any) -> bool:
    """True for a SIMT GPU description (it has streaming multiprocessors)."""
    return hasattr(target, "sms")
