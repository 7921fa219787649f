"""The pattern rewriter: matching (ops, inputs, bindings, single use, commutativity), rewriting
to nodes or constants, dead-code cleanup, type checks and convergence."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import CompileError, Pat, Rule, rewrite_graph
from compiler.rewrite import Match, Rewrite
from framework import GraphBuilder, Node, OpCode, interpret, verify_graph


def _neg_neg() -> Rule:
    """neg(neg(x)) -> identity(x)."""
    def fn(m: Match) -> Rewrite:
        x = m.values["x"]
        return Rewrite(nodes=(Node(OpCode.IDENTITY, (x,), m.root.outputs, name=m.root.name),))
    inner = Pat.op(OpCode.NEG, Pat.any("x"), single_use=True)
    return Rule("neg_neg", Pat.op(OpCode.NEG, inner), fn)


def test_rewrite_replaces_root_and_deletes_the_dead_inner_node() -> None:
    b = GraphBuilder()
    x = b.input("x", (3,))
    y = b.neg(b.neg(x))
    b.output(y)
    g = rewrite_graph(b.build(), [_neg_neg()])
    verify_graph(g)
    assert [n.op for n in g.nodes] == [OpCode.IDENTITY]
    assert g.outputs == (y,)


def test_single_use_blocks_a_match_when_the_inner_value_has_other_users() -> None:
    b = GraphBuilder()
    x = b.input("x", (3,))
    n1 = b.neg(x)
    y = b.neg(n1)
    b.output(y, n1)
    g = rewrite_graph(b.build(), [_neg_neg()])
    assert [n.op for n in g.nodes] == [OpCode.NEG, OpCode.NEG]


def test_repeated_name_must_bind_the_same_value() -> None:
    seen: list[str] = []

    def fn(m: Match) -> None:
        seen.append(m.root.name)
        return None

    square = Pat.op(OpCode.MUL, Pat.any("a"), Pat.any("a"))
    b = GraphBuilder()
    x, z = b.input("x", (2,)), b.input("z", (2,))
    b.output(b.mul(x, x, name="sq"), b.mul(x, z, name="xz"))
    rewrite_graph(b.build(), [Rule("square", square, fn)])
    assert seen == ["sq"]


def test_commutative_pattern_tries_both_operand_orders() -> None:
    def fn(m: Match) -> Rewrite:
        return Rewrite(nodes=(Node(OpCode.SUB, (m.values["x"], m.values["y"]),
                                   m.root.outputs, name=m.root.name),))

    # x + neg(y) -> x - y, whichever side the neg is on
    pat = Pat.op(OpCode.ADD, Pat.any("x"), Pat.op(OpCode.NEG, Pat.any("y"), single_use=True),
                 commutative=True)
    b = GraphBuilder()
    x, y = b.input("x", (4,)), b.input("y", (4,))
    out = b.add(b.neg(y), x)
    b.output(out)
    before = b.build()
    after = rewrite_graph(before, [Rule("add_neg", pat, fn)])
    assert [n.op for n in after.nodes] == [OpCode.SUB]
    feeds = {"x": np.arange(4, dtype=np.float32), "y": np.ones(4, np.float32)}
    np.testing.assert_array_equal(interpret(before, feeds)[out], interpret(after, feeds)[out])


def test_rewrite_to_constants_and_unused_constants_disappear() -> None:
    def fold(m: Match) -> Rewrite:
        value = m.array(m.values["c"]) * 2
        return Rewrite(constants={m.root.outputs[0]: value})

    b = GraphBuilder()
    c = b.constant(np.array([1.0, 2.0], np.float32), name="c")
    y = b.add(b.input("x", (2,)), b.mul(c, 2.0))
    b.output(y)
    g = rewrite_graph(b.build(), [Rule("double", Pat.op(OpCode.MUL, Pat.constant("c"),
                                                         Pat.constant()), fold)])
    verify_graph(g)
    assert "c" not in g.constants
    assert [n.op for n in g.nodes] == [OpCode.ADD]
    np.testing.assert_array_equal(g.constants[g.nodes[0].inputs[1]], [2.0, 4.0])


def test_a_rewrite_that_changes_a_type_is_refused() -> None:
    def widen(m: Match) -> Rewrite:
        shape = m.fresh("shape")
        return Rewrite(constants={shape: np.zeros(5, np.float32),
                                  m.root.outputs[0]: np.zeros(5, np.float32)})

    b = GraphBuilder()
    b.output(b.relu(b.input("x", (3,))))
    with pytest.raises(CompileError, match="changes the type"):
        rewrite_graph(b.build(), [Rule("widen", Pat.op(OpCode.RELU), widen)])


def test_a_rewrite_that_leaves_an_output_undefined_is_refused() -> None:
    b = GraphBuilder()
    b.output(b.relu(b.input("x", (3,))))
    with pytest.raises(CompileError, match="does not define"):
        rewrite_graph(b.build(), [Rule("drop", Pat.op(OpCode.RELU), lambda m: Rewrite())])


def test_rules_that_never_settle_are_reported() -> None:
    def flip(m: Match) -> Rewrite:
        op = OpCode.ABS if m.root.op is OpCode.RELU else OpCode.RELU
        return Rewrite(nodes=(m.root.replace(op=op),))

    b = GraphBuilder()
    b.output(b.relu(b.input("x", (3,))))
    rule = Rule("flip", Pat.op(frozenset({OpCode.RELU, OpCode.ABS})), flip)
    with pytest.raises(CompileError, match="did not converge"):
        rewrite_graph(b.build(), [rule], max_sweeps=5)


def test_new_nodes_are_placed_where_the_root_was() -> None:
    def split_relu(m: Match) -> Rewrite:
        mid = m.fresh("mid")
        return Rewrite(nodes=(Node(OpCode.ABS, m.root.inputs, (mid,), name=mid),
                              Node(OpCode.MAXIMUM, (mid, m.root.inputs[0]), m.root.outputs,
                                   name=m.root.name)))

    b = GraphBuilder()
    x = b.input("x", (3,))
    y = b.exp(b.relu(b.neg(x)))
    b.output(y)
    g = rewrite_graph(b.build(), [Rule("split", Pat.op(OpCode.RELU), split_relu)])
    assert [n.op for n in g.nodes] == [OpCode.NEG, OpCode.ABS, OpCode.MAXIMUM, OpCode.EXP]
    verify_graph(g)


def test_alias_rewrites_redirect_readers_but_not_graph_outputs() -> None:
    def bypass(m: Match) -> Rewrite:
        return Rewrite(aliases={m.root.outputs[0]: m.root.inputs[0]})

    b = GraphBuilder()
    x = b.input("x", (3,))
    kept = b.identity(x)
    y = b.exp(b.identity(x))
    b.output(y, kept)
    rule = Rule("bypass", Pat.op(OpCode.IDENTITY,
                                 where=lambda n: n.outputs[0] != kept), bypass)
    g = rewrite_graph(b.build(), [rule])
    assert [n.op for n in g.nodes] == [OpCode.IDENTITY, OpCode.EXP]
    assert g.nodes[1].inputs == (x,)
    with pytest.raises(CompileError, match="no graph output"):
        rewrite_graph(b.build(), [Rule("bypass_all", Pat.op(OpCode.IDENTITY), bypass)])
