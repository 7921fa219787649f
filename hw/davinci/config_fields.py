"""Field types shared by the DaVinci config records, and the translation of pydantic's
validation errors into one-line-per-field `ConfigError` messages.

Every numeric field uses one of the annotated types below, so a bad value always reads
``<field>: <value> must be ...`` whatever the field (simpy's ``ValueError(f"Negative delay
{delay}")`` style, but naming the field too).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError

from hw.errors import ConfigError

DTYPE_BYTES: Mapping[str, int] = {"fp16": 2, "bf16": 2, "int8": 1, "fp32": 4}
"""Itemsize of each Cube input dtype the config can name (facts/davinci.md §1.1)."""


def _int_rule(minimum: int, what: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        # bool is an int subclass; True for a buffer size is a mistake, never a 1.
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be a {what} integer")
        return value

    return check


def _float_rule(positive: bool) -> Callable[[Any], float]:
    what = "a positive finite number" if positive else "a non-negative finite number"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be {what}")
        number = float(value)
        if not math.isfinite(number) or number < 0 or (positive and number == 0):
            raise ValueError(f"must be {what}")
        return number

    return check


PositiveInt = Annotated[int, PlainValidator(_int_rule(1, "positive"))]
"""A count or size that must be at least 1."""
NonNegativeInt = Annotated[int, PlainValidator(_int_rule(0, "non-negative"))]
"""A count, size or latency where 0 is meaningful (absent buffer, no latency)."""
PositiveFloat = Annotated[float, PlainValidator(_float_rule(positive=True))]
"""A frequency or bandwidth that must be > 0."""
NonNegativeFloat = Annotated[float, PlainValidator(_float_rule(positive=False))]
"""A bandwidth (0 = path absent), a slope or a time that may be 0."""


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


_MAX_ECHO_CHARS = 80


def _location(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _clean(message: str) -> str:
    # pydantic prefixes messages raised from validators with "Value error, ".
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def format_validation_error(exc: ValidationError, source: str | None = None) -> ConfigError:
    """One ConfigError with one line per failing field, field name (and file) first."""
    lines = []
    for error in exc.errors():
        where = _location(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            line = f"{where}: unknown field"
        elif kind == "missing":
            line = f"{where}: missing (required)"
        elif where:
            value = repr(error["input"])
            # a whole table (vector_costs) is too long to echo; the message names the culprit
            shown = f"{value} " if len(value) <= _MAX_ECHO_CHARS else ""
            line = f"{where}: {shown}{_clean(error['msg'])}"
        else:
            # model-level checks already format "<field>: <value> <problem>" lines themselves
            line = _clean(error["msg"])
        lines.extend(line.splitlines())
    if source:
        lines = [f"{source}: {line}" for line in lines]
    return ConfigError("\n".join(lines))
