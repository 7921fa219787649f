"""Design-point sampling: grid, list, random and Latin-hypercube, deterministic given a seed.

A `Parameter` is either discrete (``values``) or a range (``low``..``high``, linear or
logarithmic, optionally integer and rounded to a multiple). `sample` turns the parameters and a
`Sampling` into a list of assignments (parameter name -> value), always in the same order for
the same inputs: random draws come from ``numpy.random.default_rng(seed)`` and Latin-hypercube
designs from ``scipy.stats.qmc.LatinHypercube(seed=seed)`` (McKay, Beckman & Conover 1979).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np


class Method(StrEnum):
    """How parameters combine into design points."""

    GRID = "grid"  # Cartesian product of every parameter's values
    LIST = "list"  # point i takes the i-th value of every parameter (equal-length lists)
    RANDOM = "random"  # `samples` independent uniform draws
    LHS = "lhs"  # `samples` points of a Latin hypercube: each range cut into `samples` strata


@dataclass(frozen=True)
class Parameter:
    """One swept config field: discrete ``values`` or a ``low``..``high`` range.

    Ranges need ``num`` on a grid (evenly spaced, geometrically when ``log``); ``integer``
    rounds to the nearest multiple of ``multiple_of`` (1 by default) inside the range.
    """

    name: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    num: int | None = None
    log: bool = False
    integer: bool = False
    multiple_of: int = 1

    @property
    def is_range(self) -> bool:
        """Whether the parameter is a continuous range rather than a list of values."""
        return self.values is None

    def grid_values(self) -> tuple[Any, ...]:
        """The values this parameter takes on a grid."""
        if self.values is not None:
            return self.values
        assert self.low is not None and self.high is not None and self.num is not None
        space = np.geomspace if self.log else np.linspace
        return tuple(dict.fromkeys(self._round(float(u))
                                   for u in space(self.low, self.high, self.num)))

    def at(self, u: float) -> Any:
        """The value at quantile ``u`` in [0, 1): a list entry or a point of the range."""
        if self.values is not None:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        assert self.low is not None and self.high is not None
        if self.log:
            return self._round(self.low * (self.high / self.low) ** u)
        return self._round(self.low + u * (self.high - self.low))

    def _round(self, x: float) -> int | float:
        if not self.integer:
            return x
        assert self.low is not None and self.high is not None
        step = self.multiple_of
        lowest = -(-int(np.ceil(self.low)) // step) * step  # first multiple >= low
        highest = int(np.floor(self.high)) // step * step
        return int(min(max(round(x / step) * step, lowest), highest))


@dataclass(frozen=True)
class Sampling:
    """The sampling method, the number of samples (random, lhs) and the seed."""

    method: Method = Method.GRID
    samples: int | None = None
    seed: int = 0


def sample(parameters: tuple[Parameter, ...], sampling: Sampling) -> list[dict[str, Any]]:
    """Every design point's assignment, in a deterministic order (see the module docstring)."""
    if not parameters:
        return [{}]
    names = [p.name for p in parameters]
    if sampling.method is Method.GRID:
        combos = itertools.product(*(p.grid_values() for p in parameters))
        return [dict(zip(names, combo, strict=True)) for combo in combos]
    if sampling.method is Method.LIST:
        columns = [p.values or () for p in parameters]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    n = sampling.samples or 0
    if sampling.method is Method.RANDOM:
        quantiles = np.random.default_rng(sampling.seed).random((n, len(parameters)))
    else:
        from scipy.stats import qmc

        quantiles = qmc.LatinHypercube(d=len(parameters), seed=sampling.seed).random(n)
    return [{p.name: p.at(float(u)) for p, u in zip(parameters, row, strict=True)}
            for row in quantiles]
