"""Numeric field types shared by the chip config records (DaVinci and SIMT GPU).

Every numeric config field uses one of the annotated types below, so a bad value always reads
``<field>: <value> must be ...`` whatever the field and the chip (simpy's
``ValueError(f"Negative delay {delay}")`` style, but naming the field too; the field name is
added by `hw.config_io.format_validation_error`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import PlainValidator


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

__all__ = ["NonNegativeFloat", "NonNegativeInt", "PositiveFloat", "PositiveInt"]
