"""Seeded weight initialisers; every one takes the ``np.random.Generator`` to draw from.

Draws are float32 (``Generator.random`` / ``standard_normal`` with ``dtype``), which is what keeps
building a 138 M-parameter VGG-16 well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .module import Parameter


def uniform(rng: np.random.Generator, shape: Sequence[int], bound: float) -> Parameter:
    """U(-bound, bound)."""
    a = rng.random(tuple(shape), dtype=np.float32)
    a *= 2.0 * bound
    a -= bound
    return Parameter._wrap(a)


def normal(rng: np.random.Generator, shape: Sequence[int], std: float) -> Parameter:
    """N(0, std^2)."""
    a = rng.standard_normal(tuple(shape), dtype=np.float32)
    a *= std
    return Parameter._wrap(a)


def kaiming_normal(rng: np.random.Generator, shape: Sequence[int], fan_in: int) -> Parameter:
    """N(0, 2 / fan_in): keeps activation variance through ReLU layers (He et al. 2015)."""
    return normal(rng, shape, math.sqrt(2.0 / fan_in))


def fan_in_uniform(rng: np.random.Generator, shape: Sequence[int], fan_in: int) -> Parameter:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear weights and biases
    (kaiming_uniform with a = sqrt(5), torch/nn/modules/linear.py reset_parameters)."""
    return uniform(rng, shape, 1.0 / math.sqrt(max(fan_in, 1)))


def constant(shape: Sequence[int], value: float) -> Parameter:
    """A Parameter filled with ``value``."""
    return Parameter._wrap(np.full(tuple(shape), value, dtype=np.float32))
