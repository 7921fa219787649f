"""Pooling DaVinci kernels (NC1HWC0) against the reference interpreter."""

from __future__ import annotations

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
    assert "output rows per tile" in outcome.exe.kernels[0].tiling


@pytest.mark.parametrize("shape", [(2, 40, 7, 7), (1, 16, 56, 56), (3, 5, 1, 1)])
def test_global_avg_pool(shape: tuple) -> None:
    graph = build(lambda gb, x: gb.global_avg_pool(x), x=shape)
    check(graph, fmap=_fmaps(graph))


def test_pooling_respects_the_roofline() -> None:
    graph = build(lambda gb, x: gb.max_pool2d(x, 3, 2, 1), x=(4, 64, 28, 28))
    assert check_roofline(graph, fmap=_fmaps(graph))
