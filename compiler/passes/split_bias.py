"""Run-time bias split, for chips whose Cube kernels end in FixPipe (separated chips): a
LINEAR, GEMM or CONV2D whose bias is not a constant becomes the product without it plus an
element-wise ADD of the bias.

FixPipe adds a bias the Cube reads from a fractal image written at compile time, so only a
constant bias can ride inside the product. A trained parameter is a run-time value (an input
of the training step), so it is added afterwards on the vector units by the ordinary
element-wise lowering, which broadcasts the bias over the product's rows (or, as a (1, C, 1, 1)
per-channel operand, over a feature map's pixels). Fusion may then chain that ADD with the
activation after it.
"""

from __future__ import annotations

from framework import Graph, Node, OpCode
from framework.attrs import ReshapeAttrs

from ..rewrite import Match, Pat, Rewrite, Rule, rewrite_graph

_WITH_BIAS = frozenset({OpCode.LINEAR, OpCode.GEMM, OpCode.CONV2D})


def _split(m: Match) -> Rewrite | None:
    node = m.root
    if len(node.inputs) < 3 or m.is_constant(node.inputs[2]):
        return None
    if node.op is OpCode.GEMM and node.attrs.beta != 1.0:
        return None  # beta * C with a run-time C: the GEMM lowering refuses it by name
    out = node.outputs[0]
    product = m.fresh(f"{out}:product")
    nodes = [node.replace(inputs=node.inputs[:2], outputs=(product,),
                          name=m.fresh(f"{node.name}:product"))]
    bias = node.inputs[2]
    if node.op is OpCode.CONV2D:
        # NCHW: the channel vector broadcasts along axis 1, not along the last axis
        channels = m.type_of(out).shape[1]
        per_channel = m.fresh(f"{bias}:per_channel")
        nodes.append(Node(OpCode.RESHAPE, (bias,), (per_channel,),
                          ReshapeAttrs((1, channels, 1, 1)), per_channel))
        bias = per_channel
    nodes.append(Node(OpCode.ADD, (product, bias), (out,), None, node.name))
    return Rewrite(nodes=tuple(nodes))


RULES = (Rule("split_runtime_bias", Pat.op(_WITH_BIAS), _split),)


def split_runtime_bias(graph: Graph) -> Graph:
    """LINEAR / GEMM (beta 1) / CONV2D with a non-constant bias -> the product plus an ADD of
    the bias; constant biases stay in the product."""
    return rewrite_graph(graph, RULES)
