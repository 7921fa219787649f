"""Algebraic simplification of data movement: no-op nodes disappear and chains of transposes
or reshapes collapse into one node (traced and differentiated graphs are full of both)."""

from __future__ import annotations

from framework import Graph, Node, OpCode
from framework.attrs import ReshapeAttrs, TransposeAttrs

from ..rewrite import Match, Pat, Rewrite, Rule, rewrite_graph

_RESHAPES = frozenset({OpCode.RESHAPE, OpCode.FLATTEN})
_MAYBE_NOOP = frozenset({OpCode.IDENTITY, OpCode.TRANSPOSE, OpCode.RESHAPE, OpCode.FLATTEN,
                         OpCode.EXPAND, OpCode.CAST})


def _drop_noop(m: Match) -> Rewrite | None:
    """A node whose output equals its input (same shape and dtype, and for a transpose the
    identity permutation) is bypassed, unless its output is a graph output."""
    node = m.root
    src, out = m.type_of(node.inputs[0]), m.type_of(node.outputs[0])
    if m.is_output(node.outputs[0]) or (src.shape, src.dtype) != (out.shape, out.dtype):
        return None
    if node.op is OpCode.TRANSPOSE and node.attrs.perm != tuple(range(src.rank)):
        return None
    return Rewrite(aliases={node.outputs[0]: node.inputs[0]})


def _compose_transposes(m: Match) -> Rewrite:
    """transpose(transpose(x, p1), p2) = transpose(x, p1[p2])."""
    inner, outer = m.nodes["inner"], m.root
    perm = tuple(inner.attrs.perm[i] for i in outer.attrs.perm)
    return Rewrite(nodes=(outer.replace(inputs=inner.inputs, attrs=TransposeAttrs(perm)),))


def _compose_reshapes(m: Match) -> Rewrite:
    """reshape(reshape(x)) = reshape(x) to the final shape (flatten counts as a reshape)."""
    inner, outer = m.nodes["inner"], m.root
    shape = m.type_of(outer.outputs[0]).shape
    return Rewrite(nodes=(Node(OpCode.RESHAPE, inner.inputs, outer.outputs, ReshapeAttrs(shape),
                               outer.name),))


RULES = (
    Rule("drop_noop", Pat.op(_MAYBE_NOOP), _drop_noop),
    Rule("compose_transposes",
         Pat.op(OpCode.TRANSPOSE, Pat.op(OpCode.TRANSPOSE, name="inner")), _compose_transposes),
    Rule("compose_reshapes", Pat.op(_RESHAPES, Pat.op(_RESHAPES, name="inner")),
         _compose_reshapes),
)


def simplify(graph: Graph) -> Graph:
    """Bypass no-op IDENTITY / TRANSPOSE / RESHAPE / FLATTEN / EXPAND / CAST nodes and
    collapse transpose-of-transpose and reshape-of-reshape chains. Graph outputs keep their
    producers (their names are the interface); an inner node others still read stays."""
    return rewrite_graph(graph, RULES)
