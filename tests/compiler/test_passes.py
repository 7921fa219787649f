"""Each graph pass: what it rewrites, what it must leave alone, and that the interpreter gives
the same answers before and after."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from compiler import CompileError, CompileOptions
from compiler.passes import (
    assign_layouts,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_batch_norm,
    fold_constants,
    fuse,
    infer_shapes,
    simplify,
)
from framework import Graph, GraphBuilder, OpCode, TensorType, interpret, verify_graph

RNG = np.random.default_rng(7)


def _rand(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def _same_numbers(before: Graph, after: Graph, atol: float = 1e-5) -> None:
    feeds = {name: _rand(*before.types[name].shape) for name in before.inputs}
    want, got = interpret(before, feeds), interpret(after, feeds)
    for name in before.outputs:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=atol)


def _ops(graph: Graph) -> list[OpCode]:
    return [n.op for n in graph.nodes]


# ----- shape inference ----------------------------------------------------------------------

def test_shape_inference_sorts_nodes_topologically_and_keeps_layouts() -> None:
    b = GraphBuilder()
    y = b.relu(b.exp(b.input("x", (2, 3))))
    b.output(y)
    g = b.build()
    shuffled = g.replace(nodes=g.nodes[::-1],
                         types={**g.types, "x": TensorType((2, 3), layout="NZ")})
    out = infer_shapes(shuffled)
    assert _ops(out) == [OpCode.EXP, OpCode.RELU]
    assert out.types["x"].layout == "NZ"


def test_shape_inference_reports_a_wrong_declared_type() -> None:
    b = GraphBuilder()
    y = b.relu(b.input("x", (2, 3)))
    b.output(y)
    g = b.build()
    broken = g.replace(types={**g.types, y: TensorType((3, 2))})
    with pytest.raises(CompileError, match=f"output '{y}' is typed"):
        infer_shapes(broken)


# ----- constant folding ---------------------------------------------------------------------

def test_constant_folding_folds_chains_of_constant_nodes() -> None:
    b = GraphBuilder()
    w = b.constant(_rand(4, 3), name="w")
    wt = b.mul(b.transpose(w), 0.5)  # both fold: the matmul then reads one constant
    y = b.matmul(b.input("x", (2, 3)), wt)
    b.output(y)
    g = b.build()
    out = fold_constants(g)
    assert _ops(out) == [OpCode.MATMUL]
    assert "w" not in out.constants
    _same_numbers(g, out)


def test_constant_folding_leaves_nodes_that_read_inputs() -> None:
    b = GraphBuilder()
    x = b.input("x", (3,))
    b.output(b.add(x, b.constant(np.ones(3, np.float32))))
    g = b.build()
    assert _ops(fold_constants(g)) == [OpCode.ADD]


def test_constant_folding_does_not_blow_up_a_scalar() -> None:
    b = GraphBuilder()
    big = b.expand(b.scalar(1.0), (512, 512))
    b.output(b.add(b.input("x", (512, 512)), big))
    g = b.build()
    assert OpCode.EXPAND in _ops(fold_constants(g, CompileOptions(fold_max_elements=1000)))
    assert _ops(fold_constants(g, CompileOptions(fold_max_elements=1 << 20))) == [OpCode.ADD]


def test_constant_folding_rounds_float16_like_the_interpreter() -> None:
    b = GraphBuilder()
    c = b.constant(np.array([0.1, 1.3, -2.7], np.float16))
    y = b.exp(b.mul(c, c))
    b.output(y)
    g = b.build()
    out = fold_constants(g)
    assert not out.nodes and y in out.constants and out.constants[y].dtype == np.float16
    np.testing.assert_array_equal(out.constants[y], interpret(g, {})[y])


# ----- simplification -----------------------------------------------------------------------

def test_simplify_bypasses_noops_and_collapses_chains() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4))
    t = b.transpose(b.transpose(x, (1, 0, 2)), (2, 1, 0))  # one transpose, perm (2, 0, 1)
    r = b.reshape(b.flatten(b.identity(x), 1), (6, 4))
    same = b.cast(b.transpose(b.transpose(x, (0, 2, 1)), (0, 2, 1)), "float32")
    y = b.add(b.reshape(t, (24,)), b.reshape(r, (24,)))
    b.output(y, b.exp(same))
    g = b.build()
    out = simplify(g)
    assert _ops(out) == [OpCode.TRANSPOSE, OpCode.RESHAPE, OpCode.RESHAPE, OpCode.ADD,
                         OpCode.EXP]
    assert out.nodes[0].attrs.perm == (2, 0, 1) and out.nodes[-1].inputs == ("x",)
    _same_numbers(g, out)


def test_simplify_keeps_graph_outputs_and_shared_inner_nodes() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 3))
    inner = b.transpose(x)
    b.output(b.identity(x), b.transpose(inner), b.exp(inner))
    out = simplify(b.build())
    # the output transpose(transpose(x)) is composed (to the identity perm) but stays
    assert _ops(out) == [OpCode.TRANSPOSE, OpCode.IDENTITY, OpCode.TRANSPOSE, OpCode.EXP]
    assert out.nodes[2].inputs == ("x",) and out.nodes[2].attrs.perm == (0, 1)


# ----- dead code and common subexpressions --------------------------------------------------

def test_dead_code_elimination_drops_unused_nodes_and_constants_but_not_inputs() -> None:
    b = GraphBuilder()
    x, unused = b.input("x", (4,)), b.input("unused", (4,))
    b.exp(b.add(x, b.constant(np.ones(4, np.float32), name="dead_c")))
    first, _second = b.split(x, 2)
    b.output(b.relu(first))
    out = eliminate_dead_code(b.build())
    assert _ops(out) == [OpCode.SPLIT, OpCode.RELU]  # split kept whole for one used output
    assert "dead_c" not in out.constants and unused in out.inputs
    verify_graph(out)


def test_cse_merges_repeated_nodes_and_equal_small_constants() -> None:
    b = GraphBuilder()
    x = b.input("x", (4,))
    c1 = b.constant(np.arange(4, dtype=np.float32), name="c1")
    c2 = b.constant(np.arange(4, dtype=np.float32), name="c2")
    a = b.exp(b.add(x, c1))
    a2 = b.exp(b.add(x, c2))  # the same after c2 -> c1, so both nodes merge
    y = b.mul(a, a2)
    b.output(y)
    g = b.build()
    out = eliminate_common_subexpressions(g)
    assert _ops(out) == [OpCode.ADD, OpCode.EXP, OpCode.MUL]
    assert set(out.constants) == {"c1"}
    assert out.nodes[-1].inputs[0] == out.nodes[-1].inputs[1]
    _same_numbers(g, out)


def test_cse_keeps_nodes_that_differ_in_attrs_or_are_outputs() -> None:
    b = GraphBuilder()
    x = b.input("x", (4,))
    y1, y2 = b.leaky_relu(x, 0.1), b.leaky_relu(x, 0.2)
    o1, o2 = b.exp(x), b.exp(x)
    b.output(b.add(y1, y2), o1, o2)
    out = eliminate_common_subexpressions(b.build())
    assert _ops(out).count(OpCode.LEAKY_RELU) == 2
    assert _ops(out).count(OpCode.EXP) == 2 and set(out.outputs) >= {o1, o2}


# ----- batch-norm folding -------------------------------------------------------------------

def _bn(b: GraphBuilder, x: str, c: int, training: bool = False) -> str:
    scale = b.constant(RNG.uniform(0.5, 1.5, c).astype(np.float32))
    var = b.constant(RNG.uniform(0.5, 2.0, c).astype(np.float32))
    out = b.batch_norm(x, scale, b.constant(_rand(c)), b.constant(_rand(c)), var, eps=1e-3,
                       training=training)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("bias", [False, True])
def test_bn_after_conv_folds_into_weights_and_bias(bias: bool) -> None:
    b = GraphBuilder()
    w, cb = b.constant(_rand(6, 3, 3, 3)), b.constant(_rand(6)) if bias else None
    y = _bn(b, b.conv2d(b.input("x", (2, 3, 5, 5)), w, cb, padding=1), 6)
    b.output(y)
    g = b.build()
    out = fold_batch_norm(g)
    assert _ops(out) == [OpCode.CONV2D] and len(out.nodes[0].inputs) == 3
    assert out.outputs == (y,)
    _same_numbers(g, out, atol=1e-4)


def test_bn_after_linear_gemm_and_matmul_folds() -> None:
    b = GraphBuilder()
    x = b.input("x", (5, 4))
    lin = _bn(b, b.linear(x, b.constant(_rand(3, 4)), b.constant(_rand(3))), 3)
    gem = _bn(b, b.gemm(x, b.constant(_rand(6, 4)), b.constant(_rand(6)), beta=0.5,
                        trans_b=True), 6)
    mmb = _bn(b, b.add(b.constant(_rand(2)), b.matmul(x, b.constant(_rand(4, 2)))), 2)
    mm = _bn(b, b.matmul(x, b.constant(_rand(4, 2))), 2)
    b.output(lin, gem, mmb, mm)
    g = b.build()
    out = fold_batch_norm(g)
    assert OpCode.BATCH_NORM not in _ops(out)
    assert _ops(out).count(OpCode.ADD) == 2  # matmul results get one bias add each
    _same_numbers(g, out, atol=1e-4)


def test_bn_is_kept_when_folding_would_be_wrong() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4, 4))
    shared = b.conv2d(x, b.constant(_rand(3, 3, 1, 1)))
    by_input_weight = b.conv2d(x, b.input("w", (3, 3, 1, 1)))
    seq = b.linear(b.input("s", (2, 3, 4)), b.constant(_rand(4, 4)))  # BN axis 1 is not F
    b.output(_bn(b, shared, 3), shared, _bn(b, by_input_weight, 3), _bn(b, seq, 3),
             _bn(b, b.conv2d(x, b.constant(_rand(3, 3, 1, 1))), 3, training=True))
    out = fold_batch_norm(b.build())
    assert _ops(out).count(OpCode.BATCH_NORM) == 4


# ----- fusion -------------------------------------------------------------------------------

def _fused(graph: Graph) -> list[tuple[str, list[str]]]:
    return [(n.attrs.kind, [str(m.op) for m in n.attrs.body.nodes])
            for n in graph.nodes if n.op is OpCode.FUSED]


def assert_chain_invariant(graph: Graph) -> None:
    """framework/fused.py's invariant, restated: anchor first, then a linear chain where each
    node reads the previous result plus at most one body input; no body constants."""
    for node in graph.nodes:
        if node.op is not OpCode.FUSED:
            continue
        body = node.attrs.body
        assert len(body.inputs) == len(node.inputs) and not body.constants
        assert set(body.nodes[0].inputs) <= set(body.inputs)
        for prev, cur in zip(body.nodes, body.nodes[1:], strict=False):
            assert prev.outputs[0] in cur.inputs
            assert len(set(cur.inputs) - {prev.outputs[0]}) <= 1
            assert set(cur.inputs) - {prev.outputs[0]} <= set(body.inputs)
        assert body.outputs == body.nodes[-1].outputs


def _conv_block(b: GraphBuilder, x: str, c: int) -> str:
    return b.conv2d(x, b.constant(_rand(c, c, 3, 3) * 0.3), padding=1)


def test_conv_bias_activation_and_residual_fuse_into_one_node() -> None:
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6))
    h = b.clip(b.add(_conv_block(b, x, 4), b.constant(_rand(4, 1, 1))), 0.0, 6.0)
    y = b.relu(b.add(_conv_block(b, h, 4), x))
    b.output(y)
    g = b.build()
    out = fuse(g)
    assert _fused(out) == [("conv", ["conv2d", "add", "clip"]),
                           ("conv", ["conv2d", "add", "relu"])]
    assert_chain_invariant(out)
    _same_numbers(g, out)


def test_matmul_and_elementwise_chains_fuse_maximally() -> None:
    b = GraphBuilder()
    x = b.input("x", (4, 8))
    h = b.gelu(b.add(b.matmul(x, b.constant(_rand(8, 8))), b.constant(_rand(8))))
    e = b.sigmoid(b.mul(b.exp(b.neg(b.input("z", (4, 8)))), b.constant(_rand(1, 8))))
    b.output(h, e)
    g = b.build()
    out = fuse(g)
    assert _fused(out) == [("matmul", ["matmul", "add", "gelu"]),
                           ("elementwise", ["neg", "exp", "mul", "sigmoid"])]
    assert_chain_invariant(out)
    _same_numbers(g, out)


def test_fusion_stops_at_shared_values_outputs_widening_operands_and_the_limit() -> None:
    b = GraphBuilder()
    x = b.input("x", (4, 8))
    mm = b.matmul(x, b.constant(_rand(8, 8)))
    shared = b.relu(mm)  # read twice below: the chain ends here
    wide = b.add(b.exp(b.input("v", (1, 8))), x)  # exp's (1, 8) would widen to (4, 8)
    out_val = b.tanh(shared)
    b.output(b.add(shared, out_val), b.sigmoid(out_val), wide)
    g = b.build()
    out = fuse(g)
    assert ("matmul", ["matmul", "relu"]) in _fused(out)
    assert OpCode.EXP in _ops(out) and OpCode.TANH in _ops(out)
    _same_numbers(g, out)
    b2 = GraphBuilder()
    y = b2.input("y", (3,))
    for _ in range(6):
        y = b2.exp(y)
    b2.output(y)
    limited = fuse(b2.build(), CompileOptions(max_epilogue_ops=2))
    assert [len(n) for _, n in _fused(limited)] == [3, 3]


def test_anchor_epilogues_read_only_tile_operands_unless_told_otherwise() -> None:
    b = GraphBuilder()
    q = b.input("q", (2, 3, 4, 5))
    scores = b.div(b.matmul(q, b.input("k", (2, 3, 5, 4))), 8.0)
    masked = b.add(scores, b.constant(_rand(4, 4)))  # broadcasts over (batch, heads)
    conv = b.conv2d(b.input("x", (1, 4, 3, 3)), b.constant(_rand(6, 4, 1, 1)))
    scaled = b.add(b.mul(conv, b.constant(_rand(6, 1, 1))), b.constant(_rand(1, 1, 3)))
    b.output(b.exp(masked), scaled)
    g = b.build()
    tile = _fused(fuse(g))
    assert ("matmul", ["matmul", "div"]) in tile and ("conv", ["conv2d", "mul"]) in tile
    assert ("elementwise", ["add", "exp"]) in tile
    wide = _fused(fuse(g, CompileOptions(epilogue_operands="any")))
    assert sorted(wide) == [("conv", ["conv2d", "mul", "add"]),
                            ("matmul", ["matmul", "div", "add", "exp"])]
    with pytest.raises(CompileError, match="epilogue_operands"):
        CompileOptions(epilogue_operands="some")


def test_fused_node_rules_flops_printer_and_builder() -> None:
    b = GraphBuilder()
    x = b.input("x", (2, 8))
    y = b.relu(b.linear(x, b.constant(_rand(4, 8)), b.constant(_rand(4))))
    b.output(y)
    g = b.build()
    out = fuse(g)
    node = out.nodes[0]
    from framework import graph_flops

    assert graph_flops(out) == graph_flops(g) == 2 * 2 * 4 * 8 + 2 * 4
    assert "fused(" in str(out) and "body=linear+relu" in str(out)
    b2 = GraphBuilder()
    ins = [b2.input(f"i{k}", g.types[v].shape) for k, v in enumerate(node.inputs)]
    (z,) = b2.fused(ins, "matmul", node.attrs.body)
    b2.output(z)
    again = b2.build()
    feeds = {f"i{k}": interpret(g, {"x": np.ones((2, 8), np.float32)}, [v])[v] if v == x
             else g.constants[v] for k, v in enumerate(node.inputs)}
    np.testing.assert_allclose(interpret(again, feeds)[z],
                               interpret(g, {"x": np.ones((2, 8), np.float32)})[y], rtol=1e-6)


def test_fused_float16_groups_round_like_the_unfused_ops() -> None:
    b = GraphBuilder()
    x = b.input("x", (1, 4, 5, 5), "float16")
    w = b.constant(_rand(8, 4, 3, 3).astype(np.float16))
    y = b.sigmoid(b.add(b.conv2d(x, w, padding=1), b.constant(_rand(8, 1, 1).astype(np.float16))))
    b.output(y)
    g = b.build()
    out = fuse(g)
    assert _fused(out) == [("conv", ["conv2d", "add", "sigmoid"])]
    feeds = {"x": _rand(1, 4, 5, 5).astype(np.float16)}
    got = interpret(out, feeds)[y]
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, interpret(g, feeds)[y])


def test_verify_rejects_fused_bodies_that_break_the_invariant() -> None:
    from framework import FrameworkError
    from framework.attrs import FusedAttrs

    b = GraphBuilder("body")
    p, q = b.input("p", (3,)), b.input("q", (3,))
    b.output(b.add(b.exp(p), b.exp(q)))  # two chains joined: not linear
    not_chain = b.build()
    outer = GraphBuilder()
    u, v = outer.input("u", (3,)), outer.input("v", (3,))
    with pytest.raises(FrameworkError, match="previous result"):
        outer.fused([u, v], "elementwise", not_chain)
    with pytest.raises(FrameworkError, match="not a conv anchor"):
        outer.fused([u, v], "conv", not_chain)
    with pytest.raises(FrameworkError, match="kind must be"):
        FusedAttrs("pool", not_chain)
    with pytest.raises(FrameworkError, match="typed"):
        outer.fused([u, outer.input("w", (4,))], "elementwise", not_chain)

    def body_of(build: Callable[[GraphBuilder, str], str]) -> Graph:
        inner = GraphBuilder("body")
        out = build(inner, inner.input("p", (3,)))
        inner.output(out)
        return inner.build()

    bad = {
        "may not hold constants": body_of(lambda g, p: g.exp(g.add(p, g.scalar(1.0)))),
        "must be elementwise": body_of(lambda g, p: g.softmax(g.exp(p))),
        "changes the chain type": body_of(
            lambda g, p: g.add(g.exp(p), g.input("wide", (2, 3)))),
    }
    wide = outer.input("wide", (2, 3))
    for message, body in bad.items():
        with pytest.raises(FrameworkError, match=message):
            outer.fused([u, wide][:len(body.inputs)], "elementwise", body)


# ----- layout assignment --------------------------------------------------------------------

def _mixed_graph() -> Graph:
    b = GraphBuilder()
    x = b.input("x", (1, 3, 8, 8))
    w = b.constant(_rand(8, 3, 3, 3), name="w")
    h = b.relu(b.conv2d(x, w, b.constant(_rand(8), name="cb"), padding=1))
    f = b.flatten(b.global_avg_pool(h))
    y = b.linear(f, b.constant(_rand(5, 8), name="fc"), b.constant(_rand(5), name="fb"))
    b.output(y)
    return b.build()


def test_davinci_layouts() -> None:
    out = assign_layouts(_mixed_graph(), "davinci")
    lay = {v: t.layout for v, t in out.types.items()}
    assert lay["x"] == "NC1HWC0" and lay["w"] == "FRACTAL_Z" and lay["cb"] == "ND"
    assert lay["fc"] == "NZ" and lay[out.outputs[0]] == "NZ" and lay["fb"] == "ND"
    fused = assign_layouts(fuse(_mixed_graph()), "davinci")
    node = next(n for n in fused.nodes if n.op is OpCode.FUSED)
    body_layouts = {v: t.layout for v, t in node.attrs.body.types.items()}
    assert body_layouts["w"] == "FRACTAL_Z"
    assert body_layouts[node.attrs.body.outputs[0]] == "NC1HWC0"
    assert fused.types[node.inputs[1]].layout == "FRACTAL_Z"


def test_simt_layouts_and_unknown_target() -> None:
    out = assign_layouts(_mixed_graph(), "simt")
    assert out.types["x"].layout == "NHWC" and out.types["w"].layout == "ND"
    assert out.types["fc"].layout == "ND"
    with pytest.raises(CompileError, match="unknown target"):
        assign_layouts(_mixed_graph(), "tpu")
