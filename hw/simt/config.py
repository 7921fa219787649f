"""`GpuConfig`: the frozen, validated description of one SIMT GPU.

Units are in the field names (`_bytes`, `_cycles`, `_hz`, `_bytes_per_cycle`, `_s`); derived
figures (DRAM bytes per cycle, peak FLOP/s, L1 size left by a shared-memory carve-out) are
properties. Every preset value cites shared/facts/gpu.md in presets.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from hw.config_io import format_validation_error
from hw.config_types import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from isa.simt import FuncUnit, Limits

LINE_BYTES = 128
"""L1/L2 line size; 4 sectors of 32 B (facts/gpu.md §1, "L2 line / sector")."""
SECTOR_BYTES = 32
MMA_FMAS = 16 * 8 * 16
"""Multiply-adds of one mma.m16n8k16."""


class PipeCost(BaseModel):
    """A function-unit pipe: dependent-use latency and initiation interval (cycles between two
    warp instructions entering the pipe of one sub-core)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_cycles: PositiveInt
    ii_cycles: PositiveInt


class GpuConfig(BaseModel):
    """A SIMT GPU: SMs of `subcores_per_sm` sub-cores (one warp scheduler each), occupancy
    limits, function-unit pipes, shared memory, sectored L1, a shared L2 and DRAM.

    Invariants (checked at construction, violations raise `ConfigError` naming the field):
    counts positive, every `FuncUnit` has a pipe, the largest carve-out fits the unified
    L1/shared array and holds `max_shared_per_cta_bytes`, caches divide into whole sets,
    `dram_efficiency` in (0, 1]. Variants: `replace(**changes)`, validated again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sms: PositiveInt
    freq_hz: PositiveFloat
    subcores_per_sm: PositiveInt = 4
    scheduler: Literal["gto", "lrr"] = "gto"

    # Occupancy limits per SM and per CTA
    max_warps_per_sm: PositiveInt = 64
    max_threads_per_sm: PositiveInt = 2048
    max_ctas_per_sm: PositiveInt = 32
    max_threads_per_cta: PositiveInt = 1024
    regs_per_sm: PositiveInt = 65536
    max_regs_per_thread: PositiveInt = 255
    reg_alloc_unit: PositiveInt = 256  # registers per warp are allocated in these units
    unified_l1_shared_bytes: PositiveInt
    shared_carveouts_kib: tuple[NonNegativeInt, ...]
    max_shared_per_cta_bytes: PositiveInt
    shared_reserved_per_cta_bytes: NonNegativeInt = 0

    # Function units (per sub-core)
    pipes: Mapping[str, PipeCost]

    # Shared memory and L1
    shared_banks: PositiveInt = 32
    shared_bank_bytes: PositiveInt = 4
    shared_latency_cycles: PositiveInt
    l1_latency_cycles: PositiveInt
    l1_bytes_per_cycle: PositiveFloat = 128.0
    l1_ways: PositiveInt = 4

    # L2 and DRAM (chip-wide)
    l2_bytes: PositiveInt
    l2_ways: PositiveInt = 16
    l2_latency_cycles: PositiveInt
    l2_bytes_per_cycle: PositiveFloat
    dram_bytes_per_s: PositiveFloat
    dram_efficiency: PositiveFloat = 1.0
    dram_latency_cycles: PositiveInt
    launch_overhead_s: NonNegativeFloat = 0.0

    def __init__(self, **data: Any) -> None:
        """Validate `data`; any problem raises one `ConfigError` (one line per field)."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise format_validation_error(exc) from None

    @model_validator(mode="after")
    def _consistent(self) -> GpuConfig:
        problems = []
        missing = sorted(u.value for u in FuncUnit if u.value not in self.pipes)
        unknown = sorted(set(self.pipes) - {u.value for u in FuncUnit})
        if missing or unknown:
            problems.append(
                f"pipes: needs exactly {', '.join(u.value for u in FuncUnit)}"
                + (f" (missing {', '.join(missing)})" if missing else "")
                + (f" (unknown {', '.join(unknown)})" if unknown else "")
            )
        if self.dram_efficiency > 1:
            problems.append(f"dram_efficiency: {self.dram_efficiency} must be in (0, 1]")
        if not self.shared_carveouts_kib:
            problems.append("shared_carveouts_kib: needs at least one carve-out")
        elif max(self.shared_carveouts_kib) * 1024 > self.unified_l1_shared_bytes:
            problems.append(
                f"shared_carveouts_kib: {max(self.shared_carveouts_kib)} KiB exceeds "
                f"unified_l1_shared_bytes {self.unified_l1_shared_bytes}"
            )
        elif self.max_shared_per_cta_bytes > max(self.shared_carveouts_kib) * 1024:
            problems.append(
                f"max_shared_per_cta_bytes: {self.max_shared_per_cta_bytes} exceeds the largest "
                "carve-out"
            )
        if self.l2_bytes % (LINE_BYTES * self.l2_ways):
            problems.append(f"l2_bytes: {self.l2_bytes} is not a whole number of "
                            f"{self.l2_ways}-way sets of {LINE_BYTES} B lines")
        if self.max_threads_per_cta > self.max_threads_per_sm:
            problems.append(f"max_threads_per_cta: {self.max_threads_per_cta} exceeds "
                            f"max_threads_per_sm {self.max_threads_per_sm}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def replace(self, **changes: Any) -> GpuConfig:
        """A copy with `changes` applied and validated again (for sweeps)."""
        data = self.model_dump()
        data.update(changes)
        return GpuConfig(**data)

    # ----------------------------------------------------------------- derived values

    def pipe(self, unit: FuncUnit) -> PipeCost:
        return self.pipes[unit.value]

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Achievable DRAM bytes per SM cycle (peak x efficiency)."""
        return self.dram_bytes_per_s * self.dram_efficiency / self.freq_hz

    @property
    def launch_overhead_cycles(self) -> int:
        return round(self.launch_overhead_s * self.freq_hz)

    @property
    def tensor_fma_per_cycle_per_sm(self) -> float:
        """Dense fp16 tensor multiply-adds per cycle per SM implied by the mma pipe."""
        return self.subcores_per_sm * MMA_FMAS / self.pipes[FuncUnit.TENSOR.value].ii_cycles

    @property
    def peak_tensor_flops(self) -> float:
        return 2 * self.tensor_fma_per_cycle_per_sm * self.sms * self.freq_hz

    @property
    def peak_fp32_flops(self) -> float:
        """FFMA lanes x 2 FLOP: 32 lanes per warp instruction every II cycles per sub-core."""
        ii = self.pipes[FuncUnit.FP32.value].ii_cycles
        return 2 * 32 / ii * self.subcores_per_sm * self.sms * self.freq_hz

    def carveout_bytes(self, shared_per_sm_bytes: int) -> int:
        """The smallest shared-memory carve-out holding ``shared_per_sm_bytes`` (the driver's
        choice, CUDA PG "Shared Memory" carve-out); the largest if none does."""
        options = sorted(kib * 1024 for kib in self.shared_carveouts_kib)
        return next((o for o in options if o >= shared_per_sm_bytes), options[-1])

    def l1_bytes(self, shared_per_sm_bytes: int) -> int:
        """L1 data cache left by the carve-out (unified array minus shared), whole sets."""
        left = self.unified_l1_shared_bytes - self.carveout_bytes(shared_per_sm_bytes)
        set_bytes = LINE_BYTES * self.l1_ways
        return max(set_bytes, left // set_bytes * set_bytes)

    @property
    def limits(self) -> Limits:
        """The ISA verifier's per-GPU limits."""
        return Limits(
            max_threads_per_cta=self.max_threads_per_cta,
            max_shared_per_cta_bytes=self.max_shared_per_cta_bytes,
            max_regs_per_thread=self.max_regs_per_thread,
        )
