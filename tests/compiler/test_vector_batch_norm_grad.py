"""The fused training batch-norm backward on DaVinci (sums, coefficients, dx update) against the
reference interpreter, on coupled and separated chips, alone and inside a conv + batch-norm
training step."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from davinci_harness import build, check

from archsim.simulate import simulate
from compiler.davinci.kernels.vector_common import vector_units
from framework import GraphBuilder, OpCode, interpret, train_step
from hw.davinci import get_preset


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("shape", [(4, 20, 5, 5), (16, 64, 6, 6)])
def test_batch_norm_grad_kernels_match_reference(preset: str, shape: tuple) -> None:
    c = shape[1]
    graph = build(lambda gb, x, dy, s: gb.batch_norm_grad(x, dy, s, eps=1e-3),
                  x=shape, dy=shape, s=(c,))
    fmaps = ["x", "dy", graph.outputs[0]]
    outcome = check(graph, fmap=fmaps, preset=preset, atol_frac=2e-2)
    ops = [k.op for k in outcome.exe.kernels]
    assert ops == ["batch_norm_grad_sums", "elementwise"]  # coefficients in the dx kernel
    if c == 64:  # 4 channel blocks, yet every vector unit takes a share of the pixels
        units = vector_units(SimpleNamespace(target=get_preset(preset)))
        assert outcome.exe.kernels[0].tiling.startswith(f"{units} cores over 4 channel blocks")


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
def test_parameter_gradients_alone_and_coefficients_too_large_for_the_prologue(
        preset: str) -> None:
    """Nothing reads dx: a coefficients kernel writes dscale and dbias. 4096 channels: the
    coefficients do not fit UB beside the dx tiles, so that kernel also writes them to GM."""
    shape = (2, 20, 5, 5)
    graph = build(lambda gb, x, dy, s: gb.batch_norm_grad(x, dy, s)[1:], x=shape, dy=shape,
                  s=(20,))
    outcome = check(graph, fmap=["x", "dy"], preset=preset, atol_frac=2e-2)
    assert [k.op for k in outcome.exe.kernels] == ["batch_norm_grad_sums",
                                                   "batch_norm_grad_coefs"]
    shape = (2, 4096, 1, 2)
    graph = build(lambda gb, x, dy, s: gb.batch_norm_grad(x, dy, s), x=shape, dy=shape,
                  s=(4096,))
    outcome = check(graph, fmap=["x", "dy", graph.outputs[0]], preset=preset, atol_frac=2e-2)
    assert [k.op for k in outcome.exe.kernels] == ["batch_norm_grad_sums",
                                                   "batch_norm_grad_coefs", "elementwise"]


def _conv_bn_net(channels: int):
    rng = np.random.default_rng(0)
    gb = GraphBuilder("convbn")
    x = gb.input("x", (4, 8, 6, 6))
    w = gb.constant((rng.standard_normal((channels, 8, 3, 3)) * 0.2).astype(np.float32))
    stats = [rng.uniform(0.5, 1.5, channels), rng.uniform(-0.5, 0.5, channels),
             np.zeros(channels), np.ones(channels)]
    y = gb.conv2d(x, w, None, 1, 1)
    y = gb.batch_norm(y, *(gb.constant(p.astype(np.float32)) for p in stats), training=True)[0]
    gb.output(gb.flatten(gb.global_avg_pool(gb.relu(y))))
    return gb.build()


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
def test_conv_batch_norm_training_step_matches_reference(preset: str) -> None:
    """The conv weight gradient flows through batch_norm_grad's dx: every output (loss,
    updated weight, scale, bias, running statistics) matches the reference."""
    graph = train_step(_conv_bn_net(20), loss="mse")
    assert sum(n.op is OpCode.BATCH_NORM_GRAD for n in graph.nodes) == 1
    rng = np.random.default_rng(1)
    feeds = {name: (rng.standard_normal(graph.types[name].shape) * 0.5).astype(np.float32)
             for name in graph.inputs}
    result = simulate(graph, hw=preset, mode="functional", inputs=feeds)
    reference = interpret(graph, feeds)
    assert any(k.op == "batch_norm_grad_sums" for k in result.kernels)
    for name in graph.outputs:
        got, want = result.outputs[name], np.asarray(reference[name], dtype=np.float32)
        scale = float(np.max(np.abs(want))) + 1e-6
        assert np.max(np.abs(got - want)) <= 1e-2 * scale, name
