"""where (bit select with a constant condition) and float casts on DaVinci."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check, run

from compiler.errors import CompileError

MASK = np.tril(np.ones((20, 20), dtype=bool))


def test_causal_mask_with_minus_infinity_then_softmax() -> None:
    graph = build(lambda gb, x: gb.softmax(gb.where(gb.constant(MASK), x, float("-inf"))),
                  x=(2, 3, 20, 20))
    check(graph)


def test_where_keeps_infinities_exactly() -> None:
    graph = build(lambda gb, x: gb.where(gb.constant(MASK), x, float("-inf")), x=(2, 20, 20))
    outcome = run(graph)
    got, ref = outcome.outputs[graph.outputs[0]], outcome.reference[graph.outputs[0]]
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-3)


@pytest.mark.parametrize("const_a", [False, True])
def test_where_between_tensors_and_constants(const_a: bool) -> None:
    if const_a:
        graph = build(lambda gb, y: gb.where(gb.constant(MASK), 2.0, y), y=(2, 20, 20))
    else:
        graph = build(lambda gb, x, y: gb.where(gb.constant(MASK), x, y), x=(2, 20, 20),
                      y=(2, 20, 20))
    check(graph)


def test_where_with_run_time_condition_is_refused() -> None:
    def fn(gb, x, y):
        return gb.where(gb.greater(x, y), x, y)

    with pytest.raises(CompileError):
        check(build(fn, x=(4, 20), y=(4, 20)))


def test_float_cast_is_a_copy() -> None:
    check(build(lambda gb, x: gb.cast(x, "float16"), x=(3, 20)))
