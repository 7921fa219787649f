"""The whole pipeline: numerics preserved on small networks (float32, reference interpreter
before and after), the pass list follows the options, and a failing pass is named with the
passes before it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler import CompileError, CompileOptions, Pass, default_pipeline, run_pipeline
from framework import Graph, GraphBuilder, OpCode, interpret

RNG = np.random.default_rng(3)


def _rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def _bn(b: GraphBuilder, x: str, c: int) -> str:
    out = b.batch_norm(x, b.constant(RNG.uniform(0.5, 1.5, c).astype(np.float32)),
                       b.constant(_rand(c)), b.constant(_rand(c)),
                       b.constant(RNG.uniform(0.5, 2.0, c).astype(np.float32)))
    assert isinstance(out, str)
    return out


def resnet_block() -> Graph:
    """Stem conv-bn-relu, a basic residual block, and a projection block (strided 1x1
    shortcut), then pooling and a classifier."""
    b = GraphBuilder("resnet_block")
    x = b.input("x", (2, 3, 8, 8))

    def conv_bn(h: str, cin: int, cout: int, k: int, stride: int = 1) -> str:
        w = b.constant(_rand(cout, cin, k, k, scale=1 / math.sqrt(cin * k * k)))
        return _bn(b, b.conv2d(h, w, stride=stride, padding=k // 2), cout)

    h = b.relu(conv_bn(x, 3, 8, 3))
    r = b.relu(conv_bn(h, 8, 8, 3))
    h = b.relu(b.add(conv_bn(r, 8, 8, 3), h))
    r = b.relu(conv_bn(h, 8, 16, 3, stride=2))
    h = b.relu(b.add(conv_bn(r, 16, 16, 3), conv_bn(h, 8, 16, 1, stride=2)))
    y = b.linear(b.flatten(b.global_avg_pool(h)), b.constant(_rand(10, 16)),
                 b.constant(_rand(10)))
    b.output(y)
    return b.build()


def mlp() -> Graph:
    """Three linear layers with biases and activations, plus a foldable weight scaling and a
    duplicated subexpression."""
    b = GraphBuilder("mlp")
    x = b.input("x", (4, 16))
    w1 = b.mul(b.constant(_rand(32, 16)), 0.25)  # folds
    h = b.gelu(b.linear(x, w1, b.constant(_rand(32))))
    h2 = b.gelu(b.linear(x, w1, b.constant(_rand(32))))  # different bias: not CSE'd
    h = b.add(b.silu(b.linear(h, b.constant(_rand(32, 32, scale=0.2)))), h2)
    y = b.sigmoid(b.gemm(h, b.constant(_rand(32, 8)), b.constant(_rand(8))))
    b.output(y)
    return b.build()


def attention_block() -> Graph:
    """Single-head self-attention with a residual and layer norm, then a GELU MLP."""
    b = GraphBuilder("attention")
    t, d = 6, 16
    x = b.input("x", (2, t, d))

    def proj(h: str, n: int) -> str:
        return b.linear(h, b.constant(_rand(n, d, scale=0.25)), b.constant(_rand(n)))

    q, k, v = proj(x, d), proj(x, d), proj(x, d)
    scores = b.div(b.matmul(q, b.transpose(k, (0, 2, 1))), float(math.sqrt(d)))
    mask = b.constant(np.triu(np.full((t, t), -1e4, np.float32), 1))
    att = b.matmul(b.softmax(b.add(scores, mask)), v)
    h = b.layer_norm(b.add(x, proj(att, d)), b.constant(np.ones(d, np.float32)),
                     b.constant(np.zeros(d, np.float32)))
    y = b.add(h, b.linear(b.gelu(proj(h, d)), b.constant(_rand(d, d, scale=0.25))))
    b.output(y)
    return b.build()


MODELS = {"resnet_block": resnet_block, "mlp": mlp, "attention": attention_block}


@pytest.mark.parametrize("target", ["davinci", "simt"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_pipeline_preserves_numerics(model: str, target: str) -> None:
    graph = MODELS[model]()
    compiled = run_pipeline(graph, CompileOptions(target=target))
    assert compiled.inputs == graph.inputs and compiled.outputs == graph.outputs
    assert len(compiled.nodes) < len(graph.nodes)
    feeds = {name: _rand(*graph.types[name].shape) for name in graph.inputs}
    want, got = interpret(graph, feeds), interpret(compiled, feeds)
    for name in graph.outputs:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4)


ZOO = [
    "resnet18:image=32,width=8,classes=10",
    "resnet50:image=32,width=8,classes=10",
    "mobilenet_v2:image=32,width_mult=0.25,classes=10",
    "vgg16:image=32,width=8,hidden=32,classes=10",
    "bert_base:seq=8,layers=2,hidden=32,heads=2,intermediate=64,vocab=100,max_positions=16",
    "gpt2_small:mode=decode,past=7,layers=2,hidden=32,heads=2,vocab=100,max_positions=16",
    "vit_tiny:image=32,patch=8,dim=32,depth=2,heads=2,classes=10",
]


def _feeds(graph: Graph) -> dict[str, np.ndarray]:
    feeds = {}
    for name in graph.inputs:
        t = graph.types[name]
        if t.dtype.startswith("int"):
            feeds[name] = RNG.integers(0, 8, t.shape).astype(t.dtype)
        else:
            feeds[name] = RNG.normal(size=t.shape).astype(t.dtype)
    return feeds


@pytest.mark.parametrize("spec", ZOO)
def test_pipeline_preserves_numerics_on_reduced_zoo_models(spec: str) -> None:
    workloads = pytest.importorskip("workloads")
    graph = workloads.build(spec, 2)
    compiled = run_pipeline(graph)
    feeds = _feeds(graph)
    want, got = interpret(graph, feeds), interpret(compiled, feeds)
    for name in graph.outputs:
        scale = float(np.abs(want[name]).max()) + 1e-6
        np.testing.assert_allclose(got[name] / scale, want[name] / scale, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["resnet50", "bert_base"])
def test_pipeline_preserves_numerics_on_full_size_models(spec: str) -> None:
    workloads = pytest.importorskip("workloads")
    graph = workloads.build(spec)
    compiled = run_pipeline(graph)
    feeds = _feeds(graph)
    want, got = interpret(graph, feeds), interpret(compiled, feeds)
    for name in graph.outputs:
        scale = float(np.abs(want[name]).max()) + 1e-6
        np.testing.assert_allclose(got[name] / scale, want[name] / scale, atol=1e-5)


def test_pipeline_on_a_training_step_keeps_training_batch_norms() -> None:
    workloads = pytest.importorskip("workloads")
    from framework import train_step

    graph = train_step(workloads.build("resnet18:image=32,width=8,classes=10", 2),
                       "cross_entropy")
    compiled = run_pipeline(graph)
    ops = [n.op for n in compiled.nodes]
    assert ops.count(OpCode.BATCH_NORM) == 20 and OpCode.FUSED in ops
    grads = [n.outputs[0] for n in compiled.nodes if n.op is OpCode.CONV2D_GRAD_WEIGHT]
    assert grads and all(compiled.types[v].layout == "FRACTAL_Z" for v in grads)
    feeds = _feeds(graph)
    want, got = interpret(graph, feeds), interpret(compiled, feeds)
    for name in graph.outputs:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5)


def test_pipeline_result_on_the_resnet_block() -> None:
    compiled = run_pipeline(resnet_block())
    ops = [n.op for n in compiled.nodes]
    assert OpCode.BATCH_NORM not in ops and OpCode.RELU not in ops
    bodies = [[str(m.op) for m in n.attrs.body.nodes] for n in compiled.nodes
              if n.op is OpCode.FUSED]
    assert bodies.count(["conv2d", "add", "relu"]) == 2  # both residual joins
    layouts = {v: t.layout for v, t in compiled.types.items()}
    assert set(layouts.values()) == {"NC1HWC0", "FRACTAL_Z", "NZ", "ND"}


def test_options_select_the_passes() -> None:
    names = [p.name for p in default_pipeline(CompileOptions())]
    assert names == ["shape_inference", "constant_folding", "simplify", "dead_code_elimination",
                     "common_subexpression_elimination", "batch_norm_folding",
                     "relu_grad_into_batch_norm_grad", "fusion", "layout_assignment",
                     "shape_inference"]
    plain = [p.name for p in default_pipeline(CompileOptions(fuse=False, fold_batch_norm=False))]
    assert "fusion" not in plain and "batch_norm_folding" not in plain
    compiled = run_pipeline(resnet_block(), CompileOptions(fuse=False, fold_batch_norm=False))
    assert {OpCode.BATCH_NORM, OpCode.RELU} <= {n.op for n in compiled.nodes}


def test_on_pass_sees_each_intermediate_graph() -> None:
    seen: list[tuple[str, int]] = []
    run_pipeline(mlp(), on_pass=lambda p, g: seen.append((p.name, len(g.nodes))))
    assert [name for name, _ in seen] == [p.name for p in default_pipeline(CompileOptions())]


def test_a_failing_pass_is_named_with_the_passes_before_it() -> None:
    def break_types(graph: Graph) -> Graph:
        node = graph.nodes[0]
        wrong = graph.types[node.outputs[0]].with_shape((1,))
        return graph.replace(types={**graph.types, node.outputs[0]: wrong})

    passes = [*default_pipeline(CompileOptions())[:2], Pass("break_types", break_types)]
    with pytest.raises(CompileError) as info:
        run_pipeline(mlp(), passes=passes)
    message = str(info.value)
    assert "pass 'break_types' failed" in message
    assert "passes before it: shape_inference, constant_folding" in message
    assert "typed" in message  # the verifier's own words follow


def test_a_pass_that_raises_or_returns_garbage_is_named() -> None:
    def explode(graph: Graph) -> Graph:
        raise KeyError("boom")

    with pytest.raises(CompileError, match=r"pass 'explode' failed .*none.*boom"):
        run_pipeline(mlp(), passes=[Pass("explode", explode)])
    with pytest.raises(CompileError, match="not a Graph"):
        run_pipeline(mlp(), passes=[Pass("nothing", lambda g: None)])  # type: ignore[arg-type,return-value]


def test_bad_options_and_bad_input_graphs_are_rejected() -> None:
    with pytest.raises(CompileError, match="target"):
        CompileOptions(target="tpu")
    with pytest.raises(CompileError, match="gm_alignment_bytes"):
        CompileOptions(gm_alignment_bytes=100)
    assert CompileOptions().storage_dtype("float32") == "float16"
    assert CompileOptions().storage_dtype("int64") == "int64"
    g = mlp()
    broken = g.replace(outputs=("nowhere",))
    with pytest.raises(CompileError, match="input graph 'mlp' is invalid"):
        run_pipeline(broken)


UNARY = ("relu", "exp", "tanh", "sigmoid", "neg", "abs", "silu")
BINARY = ("add", "sub", "mul", "maximum")


@st.composite
def random_networks(draw: st.DrawFn) -> Graph:
    """Random DAGs of matmuls, unary and broadcasting binary ops over (4, 8) values, with
    constant operands of shape (4, 8), (1, 8), (8,) or () and several outputs."""
    b = GraphBuilder("random")
    values = [b.input("x", (4, 8)), b.input("y", (4, 8))]
    for _ in range(draw(st.integers(1, 14))):
        src = draw(st.sampled_from(values))
        kind = draw(st.sampled_from(("unary", "binary", "const", "matmul")))
        if kind == "unary":
            out = getattr(b, draw(st.sampled_from(UNARY)))(src)
        elif kind == "binary":
            out = getattr(b, draw(st.sampled_from(BINARY)))(src, draw(st.sampled_from(values)))
        elif kind == "const":
            shape = draw(st.sampled_from([(4, 8), (1, 8), (8,), ()]))
            c = b.constant(_rand(*shape))
            a, c = (src, c) if draw(st.booleans()) else (c, src)
            out = getattr(b, draw(st.sampled_from(BINARY)))(a, c)
        else:
            out = b.matmul(src, b.constant(_rand(8, 8, scale=0.3)))
        values.append(out)
    outs = draw(st.lists(st.sampled_from(values[2:]), min_size=1, max_size=3, unique=True))
    b.output(*outs)
    return b.build()


@given(random_networks())
def test_pipeline_preserves_numerics_on_random_networks(graph: Graph) -> None:
    compiled = run_pipeline(graph)
    for node in compiled.nodes:  # every group obeys the chain invariant
        if node.op is OpCode.FUSED:
            body = node.attrs.body
            assert set(body.nodes[0].inputs) <= set(body.inputs)
            for prev, cur in zip(body.nodes, body.nodes[1:], strict=False):
                assert prev.outputs[0] in cur.inputs
                assert len(set(cur.inputs) - {prev.outputs[0]}) <= 1
    feeds = {"x": _rand(4, 8), "y": _rand(4, 8)}
    want, got = interpret(graph, feeds), interpret(compiled, feeds)
    for name in graph.outputs:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)
