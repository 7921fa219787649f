"""Vector kernels on a separated chip (ascend910b): work is split over both AIVs of every core."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check

PRESET = "ascend910b"

CASES = {
    "gelu": (lambda gb, x: gb.gelu(x), {"x": (64, 300)}, ()),
    "bias_add": (lambda gb, x: gb.add(x, gb.constant(np.linspace(-1, 1, 300,
                                                                  dtype=np.float32))),
                 {"x": (64, 300)}, ()),
    "softmax": (lambda gb, x: gb.softmax(x), {"x": (96, 200)}, ()),
    "layer_norm": (lambda gb, x, s, b: gb.layer_norm(x, s, b), {"x": (50, 96), "s": (96,),
                                                               "b": (96,)}, ()),
    "max_pool": (lambda gb, x: gb.max_pool2d(x, 3, 2, 1), {"x": (2, 64, 16, 16)}, ("x",)),
    "reduce_mean": (lambda gb, x: gb.reduce_mean(x, -1), {"x": (70, 40)}, ()),
    "transpose": (lambda gb, x: gb.transpose(x, (0, 2, 1, 3)), {"x": (2, 20, 3, 32)}, ()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector_kernels_on_aiv_units(name: str) -> None:
    fn, shapes, fmap = CASES[name]
    graph = build(fn, **shapes)
    outputs = list(graph.outputs) if fmap else []
    outcome = check(graph, preset=PRESET, fmap=[*fmap, *outputs], atol=2e-3)
    kernel = outcome.exe.kernels[-1].program
    assert set(kernel.cores[0]) <= {"aiv0", "aiv1"}
