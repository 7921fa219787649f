"""Comparisons, where (bit selection, constant or run-time conditions) and casts."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check, feeds_for, run

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


@pytest.mark.parametrize("op", ["greater", "less", "equal"])
def test_comparisons_give_exact_zero_one(op: str) -> None:
    graph = build(lambda gb, x, y: getattr(gb, op)(x, y), x=(4, 20), y=(1, 20))
    feeds = feeds_for(graph)
    feeds["x"][:, :5] = feeds["y"][:, :5]  # some exact ties
    check(graph, feeds, rtol=0.0, atol_frac=0.0)


def test_relu_backward_on_feature_maps() -> None:
    graph = build(lambda gb, x, dy: gb.where(gb.greater(x, 0.0), dy, 0.0), x=(2, 20, 3, 3),
                  dy=(2, 20, 3, 3))
    check(graph, fmap=["x", "dy"])


@pytest.mark.parametrize("case", ["tensors", "immediates", "clip_backward"])
def test_where_with_run_time_condition(case: str) -> None:
    if case == "tensors":
        graph = build(lambda gb, x, y: gb.where(gb.greater(x, y), x, y), x=(4, 20), y=(4, 20))
    elif case == "immediates":
        graph = build(lambda gb, x: gb.where(gb.greater(x, 0.1), gb.scalar(2.5),
                                             gb.scalar(-1.0)), x=(4, 20))
    else:
        graph = build(lambda gb, x, dy: gb.where(gb.less(x, -0.5), 0.0, dy), x=(4, 20),
                      dy=(4, 20))
    check(graph)


def test_bool_to_float_cast() -> None:
    check(build(lambda gb, x: gb.cast(gb.greater(x, 0.0), "float32"), x=(4, 20)))


def test_float_cast_is_a_copy() -> None:
    check(build(lambda gb, x: gb.cast(x, "float16"), x=(3, 20)))
