"""Pooling DaVinci kernels (NC1HWC0) against the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check, check_roofline


def _fmaps(graph) -> list[str]:
    return [v for v, t in graph.types.items() if t.rank == 4]


@pytest.mark.parametrize("kwargs", [
    {"kernel": 3, "stride": 2, "padding": 1},
    {"kernel": 2, "stride": 2, "padding": 0, "dilation": 2, "ceil_mode": True},
    {"kernel": (3, 2), "stride": (1, 2), "padding": (1, 0, 1, 1)},
    {"kernel": 2, "stride": 2, "padding": 0, "ceil_mode": True},
])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pooling(op: str, kwargs: dict) -> None:
    graph = build(lambda gb, x: getattr(gb, op)(x, **kwargs), x=(2, 20, 9, 11))
    check(graph, fmap=_fmaps(graph))


def test_avg_pool_counting_padding() -> None:
    graph = build(lambda gb, x: gb.avg_pool2d(x, 3, 1, 1, count_include_pad=True),
                  x=(2, 20, 9, 9))
    check(graph, fmap=_fmaps(graph))


def test_max_pool_large_map_is_tiled_by_rows() -> None:
    # 112 x 112 x 64 channels: one slice's padded rows do not fit UB twice
    graph = build(lambda gb, x: gb.max_pool2d(x, 3, 2, 1), x=(1, 64, 112, 112))
    outcome = check(graph, fmap=_fmaps(graph))
    assert "tiles of" in outcome.exe.kernels[0].tiling


@pytest.mark.parametrize("shape", [(2, 40, 7, 7), (1, 16, 56, 56), (3, 5, 1, 1)])
def test_global_avg_pool(shape: tuple) -> None:
    graph = build(lambda gb, x: gb.global_avg_pool(x), x=shape)
    check(graph, fmap=_fmaps(graph))


def test_pooling_respects_the_roofline() -> None:
    graph = build(lambda gb, x: gb.max_pool2d(x, 3, 2, 1), x=(4, 64, 28, 28))
    assert check_roofline(graph, fmap=_fmaps(graph))


@pytest.mark.parametrize("op,attrs,shape", [
    ("max_pool2d_grad", {"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1, 1, 1)},
     (2, 20, 9, 9)),
    ("max_pool2d_grad", {"kernel": (2, 2), "stride": (1, 1)}, (1, 20, 6, 7)),
    ("max_pool2d_grad", {"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1, 1, 1)},
     (1, 16, 112, 112)),  # tiled by output rows: overlapping windows carried between tiles
    ("avg_pool2d_grad", {"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1, 1, 1)},
     (2, 20, 9, 9)),
    ("avg_pool2d_grad", {"kernel": (2, 2), "stride": (2, 2), "ceil_mode": True}, (2, 20, 9, 9)),
])
def test_pooling_gradients(op: str, attrs: dict, shape: tuple) -> None:
    from framework import GraphBuilder
    from framework.attrs import PoolAttrs
    from framework.shapes_nn import pool_out_hw

    at = PoolAttrs(**attrs)
    gb = GraphBuilder("t")
    x = gb.input("x", shape)
    ho, wo = pool_out_hw(shape[2], shape[3], at)
    dy = gb.input("dy", (shape[0], shape[1], ho, wo))
    gb.output(getattr(gb, op)(x, dy, at))
    graph = gb.build()
    check(graph, fmap=[*graph.inputs, *graph.outputs])


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima() -> None:
    from framework import GraphBuilder
    from framework.attrs import PoolAttrs

    at = PoolAttrs((2, 2), (1, 1))
    gb = GraphBuilder("t")
    x = gb.input("x", (1, 16, 4, 4))
    dy = gb.input("dy", (1, 16, 3, 3))
    gb.output(gb.max_pool2d_grad(x, dy, at))
    graph = gb.build()
    feeds = {"x": np.ones((1, 16, 4, 4), dtype=np.float32),
             "dy": np.arange(144, dtype=np.float32).reshape(1, 16, 3, 3) / 100}
    check(graph, feeds, fmap=[*graph.inputs, *graph.outputs])


@pytest.mark.parametrize("op,args,shape", [
    ("avg_pool2d", ((5, 1), 1, (2, 0, 2, 0)), (1, 1, 40, 3025)),  # LRN window over channels
    ("max_pool2d", ((3, 3), (2, 2), 1), (1, 16, 9, 4001)),
    ("avg_pool2d", (3, 2, 1), (1, 16, 9, 3000)),  # per-pixel divisors, tiled with the columns
])
def test_very_wide_maps_are_tiled_by_columns(op: str, args: tuple, shape: tuple) -> None:
    graph = build(lambda gb, x: getattr(gb, op)(x, *args), x=shape)
    check(graph, fmap=_fmaps(graph))
