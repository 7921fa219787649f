"""ReLU backward into the batch-norm backward (targets whose batch_norm_grad kernels apply the
mask while they stream, DaVinci): a ReLU's VJP is ``where(greater(y, 0), g, 0)``, and when that
masked gradient only feeds a batch_norm_grad as its dy,

    batch_norm_grad(x, where(greater(y, 0), g, 0), scale)
        -> batch_norm_grad(x, g, scale, y) with relu_mask

so the kernels read y and g and the activation-sized masked gradient is never written to
memory. A masked gradient that anything else reads (a residual branch) or that is a graph
output is left alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from framework import Graph, OpCode

from ..rewrite import Match, Pat, Rewrite, Rule, rewrite_graph

_RELU_GRAD = Pat.op(OpCode.WHERE, Pat.op(OpCode.GREATER, Pat.any("y"), Pat.constant("zero_a")),
                    Pat.any("g"), Pat.constant("zero_b"), single_use=True, name="masked")


def _fold(m: Match) -> Rewrite | None:
    root = m.root
    x = root.inputs[0]
    if any(np.any(m.array(m.values[k]) != 0) for k in ("zero_a", "zero_b")):
        return None
    if any(m.type_of(m.values[k]).shape != m.type_of(x).shape for k in ("y", "g")):
        return None  # broadcast operands: the mask is not lane for lane
    return Rewrite(nodes=(root.replace(inputs=(x, m.values["g"], root.inputs[2], m.values["y"]),
                                       attrs=replace(root.attrs, relu_mask=True)),))


RULES = (Rule("relu_grad_into_batch_norm_grad",
              Pat.op(OpCode.BATCH_NORM_GRAD, Pat.any(), _RELU_GRAD, Pat.any(),
                     where=lambda n: not n.attrs.relu_mask), _fold),)


def fold_relu_grad_into_batch_norm_grad(graph: Graph) -> Graph:
    """Every batch_norm_grad whose dy is a single-use ReLU backward takes the mask itself."""
    return rewrite_graph(graph, RULES)
