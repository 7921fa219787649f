"""A 1x1 projection shortcut folded into the 1x1 convolution it is added to
(conv_plan.shortcut_reader): one kernel accumulates both inputs' K rows in L0C, the
shortcut's output never exists, and the result still matches the reference."""

from __future__ import annotations

import dataclasses

import numpy as np
from davinci_harness import build, check_timing

from archsim.simulate import compile_model, load_model, run_executable
from compiler.compile import default_options
from framework import interpret
from hw import load_hw
from isa.davinci import Img2Col
from tests.compiler.model_check import TOLERANCE, inputs_for


def _block(gb, x, shortcut_relu: bool = False):
    """A bottleneck-like block: relu(conv3(relu(conv1(x))) + ds(x)), both 1x1 stride 2 on x
    (40 and 24 channels: neither a whole number of C0 blocks)."""
    rng = np.random.default_rng(3)

    def const(*shape):
        return gb.constant((rng.standard_normal(shape) * 0.3).astype(np.float32))

    a = gb.relu(gb.conv2d(x, const(24, 40, 1, 1), const(24), stride=2))
    main = gb.conv2d(a, const(64, 24, 1, 1), const(64))
    short = gb.conv2d(x, const(64, 40, 1, 1), const(64), stride=2)
    if shortcut_relu:
        short = gb.relu(short)
    return gb.relu(gb.add(main, short))


def _compile(graph, fold: bool = True, config=None):
    config = config or load_hw("ascend910")
    return compile_model(graph, config,
                         dataclasses.replace(default_options(config), fold_shortcuts=fold),
                         merge_launches=False)


def _error(exe, graph, config) -> tuple[float, float]:
    inputs = inputs_for(graph)
    got = run_executable(exe, config, "functional", inputs, graph=graph).outputs
    want = interpret(graph, inputs)[graph.outputs[0]].astype(np.float32)
    error = float(np.abs(got[graph.outputs[0]] - want).max())
    return error, TOLERANCE * max(1.0, float(np.abs(want).max()))


def test_shortcut_folds_into_the_convolution_that_adds_it() -> None:
    graph = build(_block, x=(2, 40, 16, 16))
    config = load_hw("ascend910")
    folded, apart = _compile(graph, True), _compile(graph, False)
    convs = [k for k in folded.kernels if k.op == "conv2d"]
    assert len(convs) == 2 and len([k for k in apart.kernels if k.op == "conv2d"]) == 3
    last, (_, shortcut, _) = convs[1], [k for k in apart.kernels if k.op == "conv2d"]
    assert "folded in" in last.tiling and set(shortcut.origin) < set(last.origin)
    # the shortcut's K rows come from its own input, read at its stride
    strides = {(i.stride_h, i.c1) for core in last.program.cores for s in core.values()
               for i in s.instructions if type(i) is Img2Col}
    assert strides == {(1, 2), (2, 3)}, strides
    # the shortcut's output never crosses GM: less traffic at the same work
    assert sum(k.min_bytes for k in folded.kernels) < sum(k.min_bytes for k in apart.kernels)
    assert sum(k.flops for k in folded.kernels) == sum(k.flops for k in apart.kernels)
    error, tolerance = _error(folded, graph, config)
    assert error <= tolerance and error <= 2 * _error(apart, graph, config)[0] + 1e-3
    check_timing(folded)


def test_a_shortcut_with_its_own_activation_is_not_folded() -> None:
    graph = build(lambda gb, x: _block(gb, x, shortcut_relu=True), x=(2, 40, 16, 16))
    exe = _compile(graph)
    assert len([k for k in exe.kernels if k.op == "conv2d"]) == 3
    assert not any("folded in" in k.tiling for k in exe.kernels)


def test_resnet50_folds_its_shortcuts_and_matches_the_reference() -> None:
    """Merged launches and resident feature maps around the folded convolutions."""
    config = load_hw("ascend910").replace(cores=4)
    _, graph = load_model("resnet50:image=32,width=4,classes=10", 4)
    exe = compile_model(graph, config)
    assert sum("folded in" in k.tiling for k in exe.kernels) >= 1
    error, tolerance = _error(exe, graph, config)
    assert error <= tolerance
