"""Batch-norm DaVinci kernels (inference and training statistics) against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check


def _constants(gb, channels: int) -> list[str]:
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(0.5, 1.5, channels), rng.uniform(-1, 1, channels),
              rng.uniform(-0.5, 0.5, channels), rng.uniform(0.5, 2.0, channels)]
    return [gb.constant(a.astype(np.float32)) for a in arrays]


def _fmaps(graph) -> list[str]:
    return [v for v in (*graph.inputs, *graph.outputs) if graph.types[v].rank == 4]


@pytest.mark.parametrize("shape,fmap", [((2, 20, 3, 5), True), ((6, 20), False),
                                        ((3, 20, 7), False), ((2, 20, 3, 5), False)])
def test_inference_with_folded_constants(shape: tuple, fmap: bool) -> None:
    graph = build(lambda gb, x: gb.batch_norm(x, *_constants(gb, 20)), x=shape)
    outcome = check(graph, fmap=_fmaps(graph) if fmap else (), atol=2e-3)
    assert len(outcome.exe.kernels) == 1  # folded into one element-wise kernel


def _positive(gb, v: str) -> str:
    return gb.add(gb.abs(v), 0.5)


def test_inference_with_run_time_parameters() -> None:
    graph = build(lambda gb, x, s, b, m, v: gb.batch_norm(x, s, b, m, _positive(gb, v)),
                  x=(2, 20, 3, 5), s=(20,), b=(20,), m=(20,), v=(20,))
    check(graph, fmap=_fmaps(graph), atol=2e-3)


@pytest.mark.parametrize("shape", [(4, 20, 5, 5), (2, 48, 30, 30)])
def test_training_statistics_and_running_update(shape: tuple) -> None:
    c = shape[1]
    graph = build(lambda gb, x, s, b, m, v: gb.batch_norm(x, s, b, m, _positive(gb, v),
                                                          momentum=0.8, training=True),
                  x=shape, s=(c,), b=(c,), m=(c,), v=(c,))
    check(graph, fmap=_fmaps(graph), atol=3e-3)
