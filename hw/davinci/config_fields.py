"""Field records of the DaVinci config: Cube dtype sizes and the per-op vector cost table.

Numeric fields use the chip-independent annotated types of `hw.config_types`, so a bad value
always reads ``<field>: <value> must be ...`` whatever the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import BaseModel, ConfigDict

from hw.config_types import NonNegativeFloat, PositiveFloat

DTYPE_BYTES: Mapping[str, int] = {"fp16": 2, "bf16": 2, "int8": 1, "fp32": 4}
"""Itemsize of each Cube input dtype the config can name (facts/davinci.md §1.1)."""


class VectorCost(BaseModel):
    """Cost of one vector instruction: ``startup_cycles + slope * repeats`` cycles.

    ``cycles_per_repeat`` is the slope for 8- and 16-bit element types;
    ``cycles_per_repeat_b32`` (when set) replaces it for 32-bit element types, e.g. vexp costs
    12 + 4 r on fp16 but 12 + 2 r on fp32 (facts/davinci.md §1.2, PTO measured fits).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    startup_cycles: NonNegativeFloat
    cycles_per_repeat: PositiveFloat
    cycles_per_repeat_b32: PositiveFloat | None = None

    def slope(self, b32: bool) -> float:
        """Cycles per repeat for 32-bit (`b32`) or narrower element types."""
        if b32 and self.cycles_per_repeat_b32 is not None:
            return self.cycles_per_repeat_b32
        return self.cycles_per_repeat

    def cycles(self, repeats: int, b32: bool = False) -> float:
        """Cycles of one instruction of `repeats` repeats (0 repeats is a NOP costing nothing)."""
        if repeats <= 0:
            return 0.0
        return self.startup_cycles + self.slope(b32) * repeats


class VectorCostTable(Mapping[str, VectorCost]):
    """A read-only op -> `VectorCost` table; hashable and picklable, so configs holding one
    can key caches and travel to sweep worker processes."""

    __slots__ = ("_costs",)

    def __init__(self, costs: Mapping[str, VectorCost]) -> None:
        self._costs = dict(sorted(costs.items()))

    def __getitem__(self, op: str) -> VectorCost:
        return self._costs[op]

    def __iter__(self) -> Iterator[str]:
        return iter(self._costs)

    def __len__(self) -> int:
        return len(self._costs)

    def __hash__(self) -> int:
        return hash(tuple(self._costs.items()))

    def __repr__(self) -> str:
        return f"VectorCostTable({self._costs!r})"
