"""Run-time biases on separated chips (ascend910b): FixPipe adds constant biases only, so the
split_runtime_bias pass turns LINEAR / GEMM / CONV2D with a run-time bias into the product
plus an element-wise ADD; the compiled graphs (up to a whole MLP training step) match the
reference interpreter in functional mode."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import feeds_for

from archsim.simulate import load_model, run_executable, training_graph
from compiler.compile import compile_graph
from compiler.options import CompileOptions
from compiler.passes import split_runtime_bias
from compiler.pipeline import default_pipeline, run_pipeline
from framework import Graph, GraphBuilder, OpCode, interpret
from hw.davinci import get_preset

FIXPIPE = CompileOptions(target="davinci", epilogue="fixpipe")


def _linear_relu(bias_constant: bool) -> Graph:
    gb = GraphBuilder("linear_relu")
    x = gb.input("x", (24, 40))
    w = gb.input("w", (36, 40))
    rng = np.random.default_rng(1)
    b = gb.constant(rng.uniform(-1, 1, 36).astype(np.float32), "b") if bias_constant \
        else gb.input("b", (36,))
    gb.output(gb.relu(gb.linear(x, w, b)))
    return gb.build()


def _matmul_then_add() -> Graph:
    """A bias add written as its own op (as ONNX MatMul + Add): fusion keeps a run-time bias
    out of the FixPipe epilogue."""
    gb = GraphBuilder("matmul_add")
    x = gb.input("x", (24, 40))
    w = gb.input("w", (40, 36))
    b = gb.input("b", (36,))
    gb.output(gb.relu(gb.add(gb.matmul(x, w), b)))
    return gb.build()


def _conv_with_bias() -> Graph:
    gb = GraphBuilder("conv_bias")
    x = gb.input("x", (2, 8, 6, 6))
    w = gb.input("w", (20, 8, 3, 3))
    b = gb.input("b", (20,))
    gb.output(gb.relu(gb.conv2d(x, w, b, padding=1)))
    return gb.build()


def _run_functional(graph: Graph, feeds: dict[str, np.ndarray], preset: str = "ascend910b"
                    ) -> dict[str, np.ndarray]:
    config = get_preset(preset)
    exe = compile_graph(graph, config)
    result = run_executable(exe, config, mode="functional", inputs=feeds, graph=graph)
    return {k: np.asarray(v, dtype=np.float32) for k, v in result.outputs.items()}


def _assert_close(got: np.ndarray, want: np.ndarray, name: str, frac: float = 2e-2) -> None:
    scale = float(np.max(np.abs(want))) + 1e-6
    err = float(np.max(np.abs(got.reshape(want.shape) - want)))
    assert err <= frac * scale, f"{name}: max error {err} against max |ref| {scale}"


def test_runtime_bias_becomes_an_add_and_constant_bias_stays_in_the_product() -> None:
    split = split_runtime_bias(_linear_relu(bias_constant=False))
    linear = next(n for n in split.nodes if n.op is OpCode.LINEAR)
    assert linear.inputs == ("x", "w")
    add = next(n for n in split.nodes if n.op is OpCode.ADD)
    assert add.inputs == (linear.outputs[0], "b")
    kept = split_runtime_bias(_linear_relu(bias_constant=True))
    assert [len(n.inputs) for n in kept.nodes if n.op is OpCode.LINEAR] == [3]


def test_conv_runtime_bias_is_added_per_channel() -> None:
    split = split_runtime_bias(_conv_with_bias())
    reshape = next(n for n in split.nodes if n.op is OpCode.RESHAPE)
    assert reshape.inputs == ("b",) and split.types[reshape.outputs[0]].shape == (1, 20, 1, 1)
    assert [len(n.inputs) for n in split.nodes if n.op is OpCode.CONV2D] == [2]


def test_pipeline_splits_only_for_fixpipe_epilogues() -> None:
    names = [p.name for p in default_pipeline(FIXPIPE)]
    assert names.index("split_runtime_bias") == names.index("fusion") - 1
    assert "split_runtime_bias" not in [p.name for p in default_pipeline(CompileOptions())]
    graph = _linear_relu(bias_constant=False)
    fixpipe = run_pipeline(graph, FIXPIPE)
    vector = run_pipeline(graph, CompileOptions(target="davinci", epilogue="vector"))
    assert any(n.op is OpCode.FUSED and n.attrs.kind == "elementwise" for n in fixpipe.nodes)
    assert not any(n.op is OpCode.FUSED and n.attrs.kind == "elementwise"
                   for n in vector.nodes)


@pytest.mark.parametrize("make", [lambda: _linear_relu(False), lambda: _linear_relu(True),
                                  _matmul_then_add, _conv_with_bias])
def test_bias_on_a_separated_chip_matches_reference(make) -> None:
    graph = make()
    feeds = feeds_for(graph)
    got = _run_functional(graph, feeds)
    want = interpret(graph, feeds)
    for name in graph.outputs:
        _assert_close(got[name], np.asarray(want[name], dtype=np.float32), name)


def test_mlp_training_step_on_a_separated_chip_matches_reference() -> None:
    """The trained biases are run-time values of the step: loss and every updated parameter
    and velocity match the interpreter."""
    _, graph = load_model("mlp:features=48,hidden=32,layers=2,out=10", 8)
    step = training_graph(graph)
    rng = np.random.default_rng(0)
    feeds = {}
    for name in step.inputs:
        t = step.types[name]
        if name in graph.constants:
            feeds[name] = np.asarray(graph.constants[name], dtype=np.float32)
        elif not t.is_float:
            feeds[name] = rng.integers(0, 10, t.shape).astype(t.dtype)
        else:
            feeds[name] = rng.uniform(-1, 1, t.shape).astype(np.float16).astype(np.float32)
    assert any(n.op is OpCode.LINEAR and len(n.inputs) == 3 for n in step.nodes)
    got = _run_functional(step, feeds)
    want = interpret(step, feeds)
    assert set(got) == set(step.outputs)
    for name in step.outputs:
        _assert_close(got[name], np.asarray(want[name], dtype=np.float32), name)
