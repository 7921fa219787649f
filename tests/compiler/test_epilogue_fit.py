"""A Cube kernel's tiling leaves UB room for everything its epilogue allocates."""

from __future__ import annotations

import numpy as np
from davinci_harness import build

from archsim.simulate import compile_model
from compiler.davinci.kernels.epilogue import Step, ub_bytes_per_element, ub_scratch_bytes
from framework import OpCode
from hw import load_hw


def _block(gb, x, r, unary):
    rng = np.random.default_rng(0)
    w = gb.constant((rng.standard_normal((192, 192)) * 0.1).astype(np.float32))
    b = gb.constant((rng.standard_normal((192,)) * 0.1).astype(np.float32))
    y = gb.add(gb.matmul(x, w), b)
    return gb.add(getattr(gb, unary)(y) if unary else y, r)


def test_a_matmul_with_bias_and_residual_whose_best_tile_fills_ub_compiles() -> None:
    # ViT-Tiny's attention projection + residual at batch 32 (6304 tokens) once picked a
    # tile that left no UB for the epilogue
    for unary in (None, "gelu"):
        graph = build(lambda gb, x, r, u=unary: _block(gb, x, r, u), x=(6304, 192),
                      r=(6304, 192))
        (kernel,) = compile_model(graph, load_hw("ascend910")).kernels
        assert kernel.op == "matmul"


def test_the_fit_check_counts_the_residual_tile_and_the_unary_scratch() -> None:
    residual = Step("binary", OpCode.ADD, value="r")
    gelu = Step("unary", OpCode.GELU)
    assert ub_bytes_per_element([residual]) == 2
    assert ub_scratch_bytes([residual], 4096) == 0  # the operand has a tile of its own
    per_element = ub_bytes_per_element([gelu, residual])
    assert per_element * 4096 >= 2 * 4096 + ub_scratch_bytes([gelu, residual], 4096)
