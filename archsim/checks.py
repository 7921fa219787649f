"""Numeric checks for hand-written kernels: ``.expect NAME = EXPR`` lines are NumPy expressions
over the kernel's logical inputs, compared with its outputs from a functional run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from framework.attrs import Conv2dAttrs
from framework.evaluate_nn import conv2d as reference_conv2d
from hw.errors import SimulationError


def conv2d(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0,
           dilation: int = 1) -> np.ndarray:
    """NCHW convolution (OIHW weights) in float64 by the reference interpreter's rule."""
    attrs = Conv2dAttrs((stride, stride), (pad, pad, pad, pad), (dilation, dilation))
    return reference_conv2d(np.asarray(x, np.float64), np.asarray(w, np.float64), attrs)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


_NAMESPACE = {"np": np, "conv2d": conv2d, "relu": _relu, "exp": np.exp, "sqrt": np.sqrt}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One ``.expect`` line: the output, whether it matched, and the largest error."""

    name: str
    expression: str
    passed: bool
    max_abs_error: float
    tolerance: float


def evaluate_checks(checks: tuple[str, ...], values: Mapping[str, np.ndarray],
                    tolerance: float) -> list[CheckResult]:
    """Evaluate each ``NAME = EXPR`` in float64 and compare with ``values[NAME]``.

    The comparison is relative to the expected magnitude: |actual - expected| <= tolerance *
    max(1, max|expected|), which suits fp16 data with fp32 accumulation.
    """
    env = {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}
    results = []
    for check in checks:
        name, sep, expression = check.partition("=")
        name, expression = name.strip(), expression.strip()
        if not sep or name not in values:
            raise SimulationError(f"check {check!r}: {name!r} is not a declared output")
        try:
            expected = np.asarray(eval(expression, {"__builtins__": {}, **_NAMESPACE}, env),  # noqa: S307
                                  dtype=np.float64)
        except Exception as exc:  # a user's expression: report it, whatever it raised
            raise SimulationError(f"check {check!r}: cannot evaluate: {exc}") from None
        actual = env[name]
        if expected.shape != actual.shape:
            raise SimulationError(f"check {check!r}: expected shape {expected.shape}, output "
                                  f"{name} has shape {actual.shape}")
        error = float(np.abs(actual - expected).max()) if actual.size else 0.0
        bound = tolerance * max(1.0, float(np.abs(expected).max()) if expected.size else 1.0)
        results.append(CheckResult(name, expression, error <= bound, error, bound))
    return results
