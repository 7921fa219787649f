"""The ReLU backward folded into batch_norm_grad (DaVinci only): on a conv + batch-norm + ReLU
training step the masked gradient is no longer a kernel of its own and the step still matches
the reference; a masked gradient with another reader is left alone; the GPU's expansion handles
a masked batch_norm_grad written by hand."""

from __future__ import annotations

import numpy as np
import pytest
from davinci_harness import check
from test_vector_batch_norm_grad import _conv_bn_net

from archsim.simulate import run_executable
from compiler import CompileOptions, default_pipeline
from compiler.davinci.lower import lower_graph
from compiler.passes import (
    expand_batch_norm_grad,
    fold_relu_grad_into_batch_norm_grad,
    infer_shapes,
)
from compiler.pipeline import run_pipeline
from framework import Graph, GraphBuilder, OpCode, interpret, train_step
from hw.davinci import get_preset

PASS = "relu_grad_into_batch_norm_grad"


def _compile(graph: Graph, preset: str, fold: bool):
    options = CompileOptions(target="davinci",
                             epilogue="fixpipe" if preset == "ascend910b" else "vector")
    passes = [p for p in default_pipeline(options) if fold or p.name != PASS]
    optimized = run_pipeline(graph, options, passes)
    return optimized, lower_graph(optimized, get_preset(preset), options, name=graph.name)


def test_the_fold_runs_for_davinci_only() -> None:
    assert PASS in [p.name for p in default_pipeline(CompileOptions())]
    assert PASS not in [p.name for p in default_pipeline(CompileOptions(target="simt"))]


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
def test_conv_batch_norm_relu_step_drops_the_relu_grad_kernel_and_matches(preset: str) -> None:
    graph = train_step(_conv_bn_net(20), loss="mse")
    assert sum(n.op is OpCode.WHERE for n in graph.nodes) == 1  # relu's VJP
    folded, exe = _compile(graph, preset, fold=True)
    _, unfolded = _compile(graph, preset, fold=False)
    bng = [n for n in folded.nodes if n.op is OpCode.BATCH_NORM_GRAD]
    assert len(bng) == 1 and bng[0].attrs.relu_mask
    assert not any(n.op in (OpCode.WHERE, OpCode.GREATER) or n.op is OpCode.FUSED
                   and n.attrs.kind == "elementwise" and "where" in str(n.attrs.body)
                   for n in folded.nodes)
    assert len(exe.kernels) == len(unfolded.kernels) - 1
    assert sum(k.op == "batch_norm_grad_sums" for k in exe.kernels) == 1
    rng = np.random.default_rng(1)
    feeds = {name: (rng.standard_normal(graph.types[name].shape) * 0.5).astype(np.float32)
             for name in graph.inputs}
    result = run_executable(exe, get_preset(preset), "functional", feeds)
    reference = interpret(graph, feeds)
    for name in graph.outputs:
        got, want = result.outputs[name], np.asarray(reference[name], dtype=np.float32)
        scale = float(np.max(np.abs(want))) + 1e-6
        assert np.max(np.abs(got - want)) <= 1e-2 * scale, name


@pytest.mark.parametrize("preset", ["ascend910", "ascend910b"])
@pytest.mark.parametrize("shape", [(4, 20, 5, 5), (2, 32, 7, 7)])
def test_masked_batch_norm_grad_kernels_match_reference(preset: str, shape: tuple) -> None:
    gb = GraphBuilder("bng_relu")
    x, dy, y = (gb.input(k, shape) for k in ("x", "dy", "y"))
    s = gb.input("s", (shape[1],))
    gb.output(*gb.batch_norm_grad(x, dy, s, eps=1e-3, relu_y=y))
    graph = gb.build()
    outcome = check(graph, fmap=["x", "dy", "y", graph.outputs[0]], preset=preset,
                    atol_frac=2e-2)
    assert [k.op for k in outcome.exe.kernels] == ["batch_norm_grad_sums", "elementwise"]


def _relu_grad_graph(extra_reader: bool) -> Graph:
    gb = GraphBuilder("relu_bng")
    x, g, y = (gb.input(k, (2, 4, 3, 3)) for k in ("x", "g", "y"))
    masked = gb.where(gb.greater(y, 0.0), g, 0.0)
    dx = gb.batch_norm_grad(x, masked, gb.input("s", (4,)))[0]
    gb.output(gb.add(dx, masked) if extra_reader else dx)
    return gb.build()


def test_the_fold_keeps_a_masked_gradient_another_node_reads() -> None:
    kept = fold_relu_grad_into_batch_norm_grad(infer_shapes(_relu_grad_graph(True)))
    assert any(n.op is OpCode.WHERE for n in kept.nodes)
    folded = fold_relu_grad_into_batch_norm_grad(infer_shapes(_relu_grad_graph(False)))
    assert [n.op for n in folded.nodes] == [OpCode.BATCH_NORM_GRAD]
    assert folded.nodes[0].inputs == ("x", "g", "s", "y")
    rng = np.random.default_rng(3)
    feeds = {k: rng.standard_normal(folded.types[k].shape).astype(np.float32)
             for k in folded.inputs}
    want = interpret(_relu_grad_graph(False), feeds)
    got = interpret(folded, feeds)
    for name in folded.outputs:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-6)


def test_gpu_expansion_of_a_masked_batch_norm_grad_matches_reference() -> None:
    """The GPU never sees the fold, but a masked batch_norm_grad written by hand expands to
    where(greater(y, 0), dy, 0) and the primitive backward (GPU comparisons are not lowered
    yet, so this is checked on the graph)."""
    gb = GraphBuilder("bng_relu_gpu")
    x, dy, y = (gb.input(k, (4, 20, 5, 3)) for k in ("x", "dy", "y"))
    gb.output(*gb.batch_norm_grad(x, dy, gb.input("s", (20,)), eps=1e-3, relu_y=y))
    graph = gb.build()
    expanded = expand_batch_norm_grad(infer_shapes(graph))
    assert not any(n.op is OpCode.BATCH_NORM_GRAD for n in expanded.nodes)
    assert any(n.op is OpCode.WHERE for n in expanded.nodes)
    rng = np.random.default_rng(5)
    feeds = {k: rng.standard_normal(graph.types[k].shape).astype(np.float32)
             for k in graph.inputs}
    want, got = interpret(graph, feeds), interpret(expanded, feeds)
    for name in graph.outputs:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4)
