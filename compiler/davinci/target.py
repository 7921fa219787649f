"""What the DaVinci lowering needs to know about a chip.

The compiler may not import hw/, so it declares the attributes it reads; hw's DaVinciConfig
provides them all (structural typing).
"""

from __future__ import annotations

from typing import Protocol


class DaVinciTarget(Protocol):
    """The chip parameters that shape code generation and tiling."""

    name: str
    organisation: str  # "coupled" or "separated"
    cores: int
    freq_hz: float
    cube_dtypes: tuple[str, ...]
    l1_bytes: int
    l0a_bytes: int
    l0b_bytes: int
    l0c_bytes: int
    ub_bytes: int
    event_ids: int
    gm_to_l1_bytes_per_cycle: float
    gm_to_ub_bytes_per_cycle: float
    l1_to_l0a_bytes_per_cycle: float
    l1_to_l0b_bytes_per_cycle: float
    ub_to_gm_bytes_per_cycle: float
    l0c_to_ub_bytes_per_cycle: float
    l0c_to_gm_bytes_per_cycle: float
    gm_latency_cycles: int
    local_latency_cycles: int
    queue_depth: int

    @property
    def hbm_bytes_per_cycle(self) -> float: ...

    @property
    def l2_bytes_per_cycle(self) -> float: ...

    @property
    def kernel_launch_cycles(self) -> int: ...

    def vector_cost(self, op: str, b32: bool) -> tuple[float, float]: ...
