"""The training batch-norm backward on the SIMT GPU: batch_norm_grad is expanded into
reductions and element-wise ops before lowering (no fused GPU kernel), and the result matches
the reference on row-major and NHWC (convolution output) feature maps."""

from __future__ import annotations

import numpy as np
from simt_harness import check_model

from compiler import CompileOptions, default_pipeline
from framework import GraphBuilder, OpCode


def test_expansion_runs_only_for_the_gpu() -> None:
    assert "batch_norm_grad_expansion" in [p.name for p in
                                           default_pipeline(CompileOptions(target="simt"))]
    assert "batch_norm_grad_expansion" not in [p.name for p in default_pipeline(CompileOptions())]


def test_batch_norm_grad_on_row_major_values_matches_reference() -> None:
    gb = GraphBuilder("bng")
    x, dy, s = gb.input("x", (4, 20, 5, 3)), gb.input("dy", (4, 20, 5, 3)), gb.input("s", (20,))
    gb.output(*gb.batch_norm_grad(x, dy, s, eps=1e-3))
    exe, _ = check_model(gb.build())
    assert not any(k.op == OpCode.BATCH_NORM_GRAD.value for k in exe.kernels)


def test_batch_norm_grad_of_a_convolution_output_matches_reference() -> None:
    rng = np.random.default_rng(0)
    gb = GraphBuilder("conv_bng")
    image, dy, s = gb.input("image", (2, 8, 6, 6)), gb.input("dy", (2, 16, 6, 6)), \
        gb.input("s", (16,))
    x = gb.conv2d(image, gb.constant((rng.standard_normal((16, 8, 3, 3)) * 0.2)
                                     .astype(np.float32)), None, 1, 1)
    gb.output(*gb.batch_norm_grad(x, dy, s))
    check_model(gb.build())
