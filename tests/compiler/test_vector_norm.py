"""Softmax, log_softmax and layer norm DaVinci kernels against the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import build, check, check_roofline, feeds_for


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(6, 40), (3, 4, 128), (2, 300), (5,)])
def test_softmax_last_axis(op: str, shape: tuple) -> None:
    graph = build(lambda gb, x: getattr(gb, op)(x), x=shape)
    check(graph, feeds_for(graph, low=-6.0, high=6.0), atol=2e-3)


def test_softmax_many_rows_multi_core() -> None:
    graph = build(lambda gb, x: gb.softmax(x), x=(300, 200))
    outcome = check(graph, feeds_for(graph, low=-8.0, high=8.0), atol=1e-3)
    assert outcome.exe.kernels[0].program.block_dim == 32


def test_softmax_other_axis_is_refused() -> None:
    from compiler.errors import CompileError

    with pytest.raises(CompileError, match="only the last axis"):
        check(build(lambda gb, x: gb.softmax(x, axis=0), x=(6, 40)))


def test_layer_norm_last_axis_with_constant_parameters() -> None:
    scale = np.linspace(0.5, 1.5, 40, dtype=np.float32)
    bias = np.linspace(-1.0, 1.0, 40, dtype=np.float32)
    graph = build(lambda gb, x: gb.layer_norm(x, gb.constant(scale), gb.constant(bias)),
                  x=(2, 6, 40))
    check(graph, atol=2e-3)


def test_layer_norm_over_two_axes_with_input_parameters() -> None:
    graph = build(lambda gb, x, s, b: gb.layer_norm(x, s, b, axis=1), x=(3, 5, 24), s=(5, 24),
                  b=(5, 24))
    check(graph, atol=2e-3)


def test_layer_norm_wide_rows() -> None:
    graph = build(lambda gb, x, s, b: gb.layer_norm(x, s, b), x=(20, 768), s=(768,), b=(768,))
    check(graph, atol=3e-3)


def test_norm_kernels_respect_the_roofline() -> None:
    assert check_roofline(build(lambda gb, x: gb.softmax(x), x=(64, 128)))
