"""Reduction, argmax and one-hot DaVinci kernels against the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check, check_roofline, lower

from compiler.errors import CompileError


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max"])
@pytest.mark.parametrize("shape,axes,keep", [
    ((6, 40), -1, True), ((6, 40), -1, False), ((6, 40), 0, True), ((3, 5, 40), 1, False),
    ((3, 5, 40), None, True), ((3, 5, 40), (0, 2), False), ((3, 5, 300), -1, False),
    ((40, 33, 17), (0, 1), False),
    ((300, 200), 0, True),  # one output row: columns split over the cores
])
def test_reductions(op: str, shape: tuple, axes, keep: bool) -> None:
    graph = build(lambda gb, x: getattr(gb, op)(x, axes, keepdims=keep), x=shape)
    check(graph, atol=1e-3)


@pytest.mark.parametrize("shape,keep", [((6, 40), False), ((2, 3, 200), True), ((4, 16), False)])
def test_argmax_last_axis(shape: tuple, keep: bool) -> None:
    check(build(lambda gb, x: gb.argmax(x, -1, keepdims=keep), x=shape))


def test_argmax_other_axis_is_refused() -> None:
    with pytest.raises(CompileError, match="only the last axis"):
        check(build(lambda gb, x: gb.argmax(x, 0), x=(6, 40)))


def test_reduction_respects_the_roofline() -> None:
    assert check_roofline(build(lambda gb, x: gb.reduce_sum(x, -1), x=(256, 512)))


@pytest.mark.parametrize("shape,depth", [((10,), 7), ((3, 11), 40), ((300,), 1000)])
def test_one_hot_with_negative_indices(shape: tuple, depth: int) -> None:
    from framework import GraphBuilder

    gb = GraphBuilder("t")
    x = gb.input("x", shape, "int64")
    gb.output(gb.one_hot(x, depth))
    graph = gb.build()
    ids = np.random.default_rng(0).integers(-depth, depth, shape)
    check(graph, {"x": ids}, rtol=0.0, atol_frac=0.0)


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max"])
@pytest.mark.parametrize("axes,keep", [((0, 2, 3), True), ((0, 2, 3), False), ((2, 3), True),
                                       ((2, 3), False), (None, False), (None, True)])
def test_feature_map_reductions(op: str, axes, keep: bool) -> None:
    # NC1HWC0 input: channels stay in their lanes; 20 channels leave 12 padded lanes
    graph = build(lambda gb, x: getattr(gb, op)(x, axes, keepdims=keep), x=(3, 20, 5, 7))
    check(graph, fmap=["x"], atol=1e-3)


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max"])
@pytest.mark.parametrize("shape,axes,keep", [
    ((32, 1000), -1, False),  # a training loss: the batch's logits summed per image
    ((32, 1000), -1, True),
    ((4, 5000), -1, False),
    ((2, 20000), -1, True),  # rows longer than UB: read in column chunks
    ((2048, 100), -1, False),  # one output row of 2048 sums: split into segments
    ((5, 7, 3001), (0, 2), False),
    ((3, 40000), 0, False),  # a kept last axis wider than UB: narrower column groups
])
def test_reductions_of_long_rows_fit_ub(op: str, shape: tuple, axes, keep: bool) -> None:
    graph = build(lambda gb, x: getattr(gb, op)(x, axes, keepdims=keep), x=shape)
    check(graph, atol=2e-3)


def test_argmax_of_rows_longer_than_ub_is_refused_by_name() -> None:
    with pytest.raises(CompileError, match="argmax.*do not fit"):
        lower(build(lambda gb, x: gb.argmax(x, -1), x=(4, 50000)))


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max"])
@pytest.mark.parametrize("axes", [(0, 2, 3), None])
def test_large_feature_map_reductions_split_pixels_over_the_cores(op: str, axes) -> None:
    # 20 channels = 2 output blocks over (N, H, W): without pixel shares 2 of 32 cores work;
    # with them every core folds a share into an fp32 partial, a second kernel adds them
    graph = build(lambda gb, x: getattr(gb, op)(x, axes, keepdims=False), x=(8, 20, 112, 112))
    exe = lower(graph, fmap=["x"])
    assert [k.name.endswith(("_partials", "_finish")) for k in exe.kernels] == [True, True]
    assert "pixel shares" in exe.kernels[0].tiling
    check(graph, fmap=["x"], atol=2e-3)
    assert check_roofline(graph, fmap=["x"])
