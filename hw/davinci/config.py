"""`DaVinciConfig`: the frozen, validated description of one DaVinci AI Core chip.

Units are in the field names (`_bytes`, `_cycles`, `_hz`, `_bytes_per_cycle`, `_s`). Derived
figures (peak FLOP/s, bandwidth per cycle, launch cycles) are properties, never stored twice.
Sources of every preset value are cited in presets.py against shared/facts/davinci.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from hw.config_io import format_validation_error
from hw.config_types import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from hw.davinci.config_fields import DTYPE_BYTES, VectorCost, VectorCostTable
from hw.errors import ConfigError

SPACES: tuple[str, ...] = ("gm", "l1", "l0a", "l0b", "l0c", "ub", "bt", "fb")
"""Lower-case memory-space names accepted by `DaVinciConfig.path_bytes_per_cycle`."""

VECTOR_OPS: frozenset[str] = frozenset(
    "vadd vsub vmul vdiv vmax vmin vand vor vadds vmuls vmaxs vmins vabs vrelu vnot vexp vln "
    "vsqrt vrsqrt vrec vconv vcadd vcmax vcmin vcgadd vcgmax vcgmin vector_dup vaxpy "
    "copy_ubuf_to_ubuf copy_matrix_cc_to_ubuf default".split()
)
"""ISA mnemonics a vector cost table may name (facts/davinci.md §1.2, §8); "default" is the
fallback for any op without its own entry."""

# Paths every chip has, and the ones only one organisation has (facts/davinci.md §2.3, §3.1):
# coupled cores move L0C results through UB on the vector pipe and link L1 <-> UB; separated
# cores (910B) have FixPipe L0C -> GM/L1, and AIC/AIV exchange data only through GM.
_COMMON_PATHS = ("gm_to_l1", "gm_to_ub", "l1_to_l0a", "l1_to_l0b", "ub_to_gm", "ub_to_ub")
_ORGANISATION_PATHS = {
    "coupled": (("l1_to_ub", "ub_to_l1", "l0c_to_ub"), ("l0c_to_gm", "l0c_to_l1")),
    "separated": (("l0c_to_gm", "l0c_to_l1"), ("l1_to_ub", "ub_to_l1", "l0c_to_ub")),
}
_ALIGNED_BUFFERS = ("l1", "l0a", "l0b", "l0c", "ub", "bt", "fb")
_L0C_ITEMSIZE = 4  # L0C accumulates in fp32/int32 [ASC-MMAD] facts §1.1
_MAX_EVENT_IDS = 16  # brief: event ids per pipe pair in 1..16 (hardware has 4 or 8, facts §4)


class DaVinciConfig(BaseModel):
    """A DaVinci AI Core chip: core organisation, Cube and Vector costs, buffers, data paths,
    synchronisation and chip-level memory.

    Invariants (checked at construction, violations raise `ConfigError` naming field and value):
    counts and sizes are positive, bandwidths non-negative with every path the organisation
    needs present and every path it lacks at 0, alignments are powers of two, buffers are
    multiples of their alignment, L0A/L0B hold at least one fractal and L0C one fp32 fractal.
    Build variants with `replace(**changes)`, which validates again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    organisation: Literal["coupled", "separated"]
    cores: PositiveInt  # AI cores; on separated chips the AIC count
    vector_cores_per_core: NonNegativeInt  # 0 on coupled chips, AIV per AIC on separated ones
    freq_hz: PositiveFloat

    # Cube: one m x n x k0 fractal step per cycle, k0 = cube_k_bytes // itemsize
    cube_m: PositiveInt = 16
    cube_n: PositiveInt = 16
    cube_k_bytes: PositiveInt = 32
    cube_dtypes: tuple[str, ...]
    cube_head_cycles: NonNegativeInt = 6
    cube_fp32_cycles_per_step: PositiveInt = 2

    # Vector: startup + slope x repeats of 256 B (8 blocks of 32 B)
    vector_repeat_bytes: PositiveInt = 256
    vector_block_bytes: PositiveInt = 32
    vector_costs: Mapping[str, VectorCost]

    # Per-core buffers (bt/fb 0 = absent) and their alignments
    l1_bytes: PositiveInt
    l0a_bytes: PositiveInt
    l0b_bytes: PositiveInt
    l0c_bytes: PositiveInt
    ub_bytes: PositiveInt
    bt_bytes: NonNegativeInt
    fb_bytes: NonNegativeInt
    l1_align_bytes: PositiveInt
    l0a_align_bytes: PositiveInt
    l0b_align_bytes: PositiveInt
    l0c_align_bytes: PositiveInt
    ub_align_bytes: PositiveInt
    bt_align_bytes: PositiveInt
    fb_align_bytes: PositiveInt

    # Per-core path bandwidths; 0 = the path does not exist on this organisation
    gm_to_l1_bytes_per_cycle: NonNegativeFloat
    gm_to_ub_bytes_per_cycle: NonNegativeFloat
    gm_to_l0a_bytes_per_cycle: NonNegativeFloat
    gm_to_l0b_bytes_per_cycle: NonNegativeFloat
    l1_to_l0a_bytes_per_cycle: NonNegativeFloat
    l1_to_l0b_bytes_per_cycle: NonNegativeFloat
    l1_to_ub_bytes_per_cycle: NonNegativeFloat
    l1_to_bt_bytes_per_cycle: NonNegativeFloat
    l1_to_fb_bytes_per_cycle: NonNegativeFloat
    l1_to_gm_bytes_per_cycle: NonNegativeFloat
    ub_to_gm_bytes_per_cycle: NonNegativeFloat
    ub_to_l1_bytes_per_cycle: NonNegativeFloat
    ub_to_ub_bytes_per_cycle: NonNegativeFloat
    l0c_to_ub_bytes_per_cycle: NonNegativeFloat
    l0c_to_gm_bytes_per_cycle: NonNegativeFloat
    l0c_to_l1_bytes_per_cycle: NonNegativeFloat

    # Fixed DMA latencies (estimates; see presets.py)
    gm_latency_cycles: NonNegativeInt
    local_latency_cycles: NonNegativeInt

    # Issue and synchronisation
    queue_depth: PositiveInt = 32
    event_ids: PositiveInt
    scalar_issue_cycles: PositiveInt = 1
    flag_cycles: NonNegativeInt = 1
    barrier_drain_cycles: NonNegativeInt = 16

    # Chip level
    hbm_bytes: PositiveInt
    hbm_bytes_per_s: PositiveFloat
    l2_bytes: PositiveInt
    l2_bytes_per_s: PositiveFloat
    l2_line_bytes: PositiveInt = 512  # 512 B on C220 [SOCCFG] facts §2.2 (C310: 256 B)
    l2_ways: PositiveInt = 16  # estimate: associativity is unsourced
    kernel_launch_s: NonNegativeFloat

    def __init__(self, **data: Any) -> None:
        """Validate `data`; any problem raises one `ConfigError` (one line per field)."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise format_validation_error(exc) from None

    # ----------------------------------------------------------------- field checks

    @field_validator("name")
    @classmethod
    def _name_nonempty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a non-empty name")
        return value

    @field_validator("cube_dtypes")
    @classmethod
    def _known_dtypes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in value if d not in DTYPE_BYTES]
        if not value or unknown or len(set(value)) != len(value):
            raise ValueError(f"must be distinct names from {', '.join(DTYPE_BYTES)}")
        return value

    @field_validator("vector_costs")
    @classmethod
    def _known_ops(cls, value: Mapping[str, VectorCost]) -> Mapping[str, VectorCost]:
        unknown = sorted(set(value) - VECTOR_OPS)
        if unknown:
            known = ", ".join(sorted(VECTOR_OPS))
            raise ValueError(f"unknown op {unknown[0]!r} (known: {known})")
        if "default" not in value:
            raise ValueError("needs a 'default' entry (the cost of ops without their own)")
        # read-only: the config is frozen, so its cost table must be too
        return VectorCostTable(value)

    @field_serializer("vector_costs")
    def _dump_costs(self, value: Mapping[str, VectorCost]) -> dict[str, dict[str, Any]]:
        return {op: cost.model_dump() for op, cost in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> DaVinciConfig:
        problems = [*self._shape_problems(), *self._buffer_problems(), *self._path_problems()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _shape_problems(self) -> list[str]:
        problems = []
        for field in ("cube_m", "cube_n"):
            if getattr(self, field) % 16:
                problems.append(f"{field}: {getattr(self, field)} must be a multiple of 16")
        if self.cube_k_bytes % 32:
            # k0 = cube_k_bytes / 2 for fp16 must be a multiple of 16, like m and n
            problems.append(f"cube_k_bytes: {self.cube_k_bytes} must be a multiple of 32")
        if not _is_power_of_two(self.vector_block_bytes):
            problems.append(f"vector_block_bytes: {self.vector_block_bytes} must be a power of two")
        elif self.vector_repeat_bytes % self.vector_block_bytes:
            problems.append(
                f"vector_repeat_bytes: {self.vector_repeat_bytes} must be a multiple of "
                f"vector_block_bytes ({self.vector_block_bytes})"
            )
        if self.event_ids > _MAX_EVENT_IDS:
            problems.append(f"event_ids: {self.event_ids} must be in 1..{_MAX_EVENT_IDS}")
        if self.organisation == "coupled" and self.vector_cores_per_core != 0:
            problems.append(
                f"vector_cores_per_core: {self.vector_cores_per_core} must be 0 on a coupled "
                "chip (its vector unit is inside the AI core)"
            )
        if self.organisation == "separated" and self.vector_cores_per_core == 0:
            problems.append(
                "vector_cores_per_core: 0 must be at least 1 on a separated chip (AIV per AIC)"
            )
        return problems

    def _buffer_problems(self) -> list[str]:
        problems = []
        for buffer in _ALIGNED_BUFFERS:
            size, align = getattr(self, f"{buffer}_bytes"), getattr(self, f"{buffer}_align_bytes")
            if not _is_power_of_two(align):
                problems.append(f"{buffer}_align_bytes: {align} must be a power of two")
            elif size % align:
                problems.append(
                    f"{buffer}_bytes: {size} must be a multiple of {buffer}_align_bytes ({align})"
                )
        minimums = {
            "l0a_bytes": (self.l0a_fractal_bytes, "one L0A fractal (cube_m x cube_k_bytes)"),
            "l0b_bytes": (self.l0b_fractal_bytes, "one L0B fractal (cube_n x cube_k_bytes)"),
            "l0c_bytes": (self.l0c_fractal_bytes, "one fp32 L0C fractal (cube_m x cube_n x 4)"),
            "l1_bytes": (self.l0a_fractal_bytes, "one L0A fractal"),
            "ub_bytes": (self.vector_repeat_bytes, "one vector repeat"),
        }
        for field, (minimum, what) in minimums.items():
            if getattr(self, field) < minimum:
                problems.append(
                    f"{field}: {getattr(self, field)} is smaller than {what}, {minimum} B"
                )
        for buffer, path in (("bt", "l1_to_bt"), ("fb", "l1_to_fb")):
            size, bandwidth = getattr(self, f"{buffer}_bytes"), _bw(self, path)
            if (size > 0) != (bandwidth > 0):
                problems.append(
                    f"{path}_bytes_per_cycle: {bandwidth:g} must be > 0 exactly when "
                    f"{buffer}_bytes ({size}) is > 0"
                )
        return problems

    def _path_problems(self) -> list[str]:
        required, absent = _ORGANISATION_PATHS[self.organisation]
        problems = [
            f"{path}_bytes_per_cycle: 0 must be > 0 (every {self.organisation} chip has "
            f"the {path.replace('_to_', ' -> ')} path)"
            for path in (*_COMMON_PATHS, *required)
            if _bw(self, path) == 0
        ]
        problems += [
            f"{path}_bytes_per_cycle: {_bw(self, path):g} must be 0 (a {self.organisation} "
            f"chip has no {path.replace('_to_', ' -> ')} path)"
            for path in absent
            if _bw(self, path) != 0
        ]
        return problems

    # ----------------------------------------------------------------- behaviour

    def replace(self, **changes: Any) -> DaVinciConfig:
        """A copy with `changes` applied and validated again (for sweeps)."""
        data = self.model_dump()
        data["vector_costs"] = dict(self.vector_costs)
        data.update(changes)
        return DaVinciConfig(**data)

    def vector_cost(self, op: str, b32: bool) -> tuple[float, float]:
        """(startup_cycles, cycles_per_repeat) of vector op `op`; `b32` selects the 32-bit
        element slope. Ops without their own entry use the "default" entry."""
        cost = self.vector_costs.get(op) or self.vector_costs["default"]
        return cost.startup_cycles, cost.slope(b32)

    def path_bytes_per_cycle(self, src: str, dst: str) -> float:
        """Per-core bandwidth of the DMA path `src` -> `dst` (lower-case space names)."""
        for space in (src, dst):
            if space not in SPACES:
                raise ConfigError(f"unknown memory space {space!r} (known: {', '.join(SPACES)})")
        field = f"{src}_to_{dst}_bytes_per_cycle"
        bandwidth = getattr(self, field) if field in type(self).model_fields else 0.0
        if bandwidth <= 0:
            raise ConfigError(
                f"{self.name}: no {src} -> {dst} data path on this {self.organisation} chip"
            )
        return float(bandwidth)

    # ----------------------------------------------------------------- derived values

    @staticmethod
    def dtype_bytes(dtype: str) -> int:
        """Itemsize in bytes of a Cube dtype name ("fp16", "bf16", "int8", "fp32")."""
        try:
            return DTYPE_BYTES[dtype]
        except KeyError:
            raise ConfigError(
                f"unknown dtype {dtype!r} (known: {', '.join(DTYPE_BYTES)})"
            ) from None

    def _cube_dtype(self, dtype: str) -> int:
        itemsize = self.dtype_bytes(dtype)
        if dtype not in self.cube_dtypes:
            raise ConfigError(
                f"{self.name}: the Cube does not take {dtype} inputs "
                f"(cube_dtypes: {', '.join(self.cube_dtypes)})"
            )
        return itemsize

    def cube_k0(self, dtype: str) -> int:
        """Fractal depth in elements: cube_k_bytes // itemsize (fp16 16, int8 32, fp32 8)."""
        return self.cube_k_bytes // self._cube_dtype(dtype)

    def cube_cycles_per_step(self, dtype: str) -> int:
        """Cycles per m x n x k0 fractal step: 1, or cube_fp32_cycles_per_step for fp32."""
        self._cube_dtype(dtype)
        return self.cube_fp32_cycles_per_step if dtype == "fp32" else 1

    def cube_macs_per_cycle(self, dtype: str) -> float:
        """Multiply-accumulates per cycle per core at full Cube utilisation."""
        steps = self.cube_cycles_per_step(dtype)
        return self.cube_m * self.cube_n * self.cube_k0(dtype) / steps

    def peak_flops(self, dtype: str = "fp16") -> float:
        """Chip-wide Cube peak in FLOP/s: 2 x MACs/cycle x cores x freq_hz."""
        return 2.0 * self.cube_macs_per_cycle(dtype) * self.cores * self.freq_hz

    @property
    def l0a_fractal_bytes(self) -> int:
        """Bytes of one L0A fractal (16 x 32 B = 512 B on every preset)."""
        return self.cube_m * self.cube_k_bytes

    @property
    def l0b_fractal_bytes(self) -> int:
        """Bytes of one L0B fractal."""
        return self.cube_n * self.cube_k_bytes

    @property
    def l0c_fractal_bytes(self) -> int:
        """Bytes of one fp32 L0C fractal (16 x 16 x 4 = 1024 B on every preset)."""
        return self.cube_m * self.cube_n * _L0C_ITEMSIZE

    @property
    def vector_cores(self) -> int:
        """Vector cores (AIV) on the chip; 0 on coupled chips."""
        return self.cores * self.vector_cores_per_core

    @property
    def hbm_bytes_per_cycle(self) -> float:
        """Chip-wide HBM/DRAM bandwidth per core clock cycle, shared by all cores."""
        return self.hbm_bytes_per_s / self.freq_hz

    @property
    def l2_bytes_per_cycle(self) -> float:
        """Chip-wide L2 bandwidth per core clock cycle, shared by all cores."""
        return self.l2_bytes_per_s / self.freq_hz

    @property
    def kernel_launch_cycles(self) -> int:
        """Fixed overhead of one kernel launch in core cycles (rounded up)."""
        # round first so 10 us x 1.85 GHz is 18500 cycles, not 18501 from float noise
        return math.ceil(round(self.kernel_launch_s * self.freq_hz, 6))


def _bw(config: DaVinciConfig, path: str) -> float:
    return float(getattr(config, f"{path}_bytes_per_cycle"))


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0
