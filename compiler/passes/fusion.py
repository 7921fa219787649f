"""Fusion: conv2d / matmul / gemm / linear plus their elementwise epilogue (bias add,
activation, residual add, ReLU), and chains of elementwise ops, become FUSED nodes.

The FUSED body obeys framework/fused.py's invariant: first node the anchor, then a linear
chain of elementwise ops each reading the previous result and at most one outside value that
broadcasts into the chain's shape. The rules grow groups one op at a time, as the rewriter
sweeps the graph in topological order:

* ``ew(anchor, [other])`` where the anchor is a single-use conv/matmul -> FUSED(anchor, ew);
* ``ew(FUSED, [other])`` where the FUSED result is single-use -> the FUSED group plus ew;
* ``ew2(ew1, [other])`` where ew1 is single-use -> FUSED elementwise (ew1, ew2).

So ResNet's ``relu(add(conv(x, w, b), shortcut))`` becomes one conv group with an
``add`` + ``relu`` epilogue. A conv or matmul with no elementwise user stays a plain node, as
does a lone elementwise op: a FUSED node always holds at least two ops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from framework import Graph, Node, OpCode, TensorType
from framework.attrs import FusedAttrs
from framework.fused import ANCHOR_OPS, ELEMENTWISE_OPS

from ..options import CompileOptions
from ..rewrite import Match, Pat, Rewrite, Rule, rewrite_graph

_KIND_OF_ANCHOR = {op: kind for kind in ("conv", "matmul") for op in ANCHOR_OPS[kind]}
_FUSIBLE = frozenset(_KIND_OF_ANCHOR) | ELEMENTWISE_OPS | {OpCode.FUSED}


def _body(m: Match, nodes: tuple[Node, ...], inputs: tuple[str, ...],
          known: Mapping[str, TensorType]) -> Graph:
    """A body Graph made of (copies of) outer nodes; value names are the outer ones. Types
    come from ``known`` (an earlier body) or else from the outer graph."""
    values = set(inputs) | {o for n in nodes for o in n.outputs}
    types = {v: known[v] if v in known else m.type_of(v) for v in values}
    name = "+".join(str(n.op) for n in nodes)
    return Graph(inputs, (nodes[-1].outputs[0],), nodes, {}, types, name)


def tile_operand(operand: TensorType, result: TensorType) -> bool:
    """Whether a tile-streaming epilogue can read ``operand`` beside each tile of ``result``:
    the same shape, one element, or a per-channel vector (channels on axis 1 of a 4-D NCHW
    result, on the last axis otherwise)."""
    if operand.shape == result.shape or operand.numel == 1:
        return True
    if operand.rank > result.rank or not result.shape:
        return False
    padded = (1,) * (result.rank - operand.rank) + operand.shape
    axis = 1 if result.rank == 4 else result.rank - 1
    return all(d == (result.shape[axis] if i == axis else 1) for i, d in enumerate(padded))


def _fixpipe_step(m: Match, prev: Node, root: Node, external: tuple[str, ...],
                  out: TensorType) -> bool:
    """A separated chip's Cube kernel ends in FixPipe: it may add a per-channel constant bias
    (before any activation) and apply one ReLU, nothing else. The bias must be a constant
    because the Cube adds it from a fractal image made at compile time; a run-time bias (a
    trained parameter) stays a separate element-wise add on the vector units."""
    chain = prev.attrs.body.nodes[1:] if prev.op is OpCode.FUSED else ()
    if any(n.op is OpCode.RELU for n in chain):
        return False
    if root.op is OpCode.RELU:
        return True
    return root.op is OpCode.ADD and not chain and len(external) == 1 and \
        m.is_constant(external[0]) and m.type_of(external[0]).numel != out.numel and \
        tile_operand(m.type_of(external[0]), out)


def _grow(options: CompileOptions) -> Callable[[Match], Rewrite | None]:
    max_epilogue = options.max_epilogue_ops
    any_operand = options.epilogue_operands == "any"

    def grow(m: Match) -> Rewrite | None:
        root, prev = m.root, m.nodes["prev"]
        value = prev.outputs[0]
        out = m.type_of(root.outputs[0])
        before = m.type_of(value)
        if len(prev.outputs) != 1 or (out.shape, out.dtype) != (before.shape, before.dtype):
            return None  # the outside operand would widen the chain: not an epilogue
        external = tuple(v for v in dict.fromkeys(root.inputs) if v != value)
        kind = prev.attrs.kind if prev.op is OpCode.FUSED else \
            _KIND_OF_ANCHOR.get(prev.op, "elementwise")
        if kind != "elementwise" and not any_operand and \
                not all(tile_operand(m.type_of(v), out) for v in external):
            return None
        if kind != "elementwise" and options.epilogue == "fixpipe" and \
                not _fixpipe_step(m, prev, root, external, out):
            return None
        if prev.op is OpCode.FUSED:
            body: Graph = prev.attrs.body
            if len(body.nodes) > max_epilogue:
                return None
            nodes, inputs, known = body.nodes, body.inputs, body.types
        else:
            nodes, inputs, known = (prev,), tuple(dict.fromkeys(prev.inputs)), {}
        inputs += tuple(v for v in external if v not in inputs)
        attrs = FusedAttrs(kind, _body(m, nodes + (root,), inputs, known))
        return Rewrite(nodes=(Node(OpCode.FUSED, inputs, root.outputs, attrs, root.name),))
    return grow


def fuse(graph: Graph, options: CompileOptions | None = None) -> Graph:
    """Group conv/matmul epilogues and elementwise chains into FUSED nodes (see the module
    docstring); a group's epilogue holds at most ``options.max_epilogue_ops`` ops, and a
    conv/matmul epilogue reads only operands ``options.epilogue_operands`` allows."""
    grow = _grow(options or CompileOptions())
    prev = Pat.op(_FUSIBLE, name="prev", single_use=True)
    rules = [
        Rule("fuse_unary", Pat.op(ELEMENTWISE_OPS, prev), grow),
        Rule("fuse_binary", Pat.op(ELEMENTWISE_OPS, prev, Pat.any(), commutative=True), grow),
    ]
    return rewrite_graph(graph, rules)
