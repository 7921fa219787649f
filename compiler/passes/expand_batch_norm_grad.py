"""Batch-norm backward expansion, for targets without a fused batch_norm_grad kernel (the SIMT
GPU): BATCH_NORM_GRAD becomes the primitive computation it stands for, with reductions over
every axis but 1 and element-wise ops the target already lowers (a relu_mask first becomes
dy = where(y > 0, dy, 0)):

    mean = mean(x); xc = x - mean; inv = 1 / sqrt(mean(xc * xc) + eps); xhat = xc * inv
    dbias = sum(dy); dscale = sum(dy * xhat)
    dx = scale * inv / M * (M * dy - dbias - xhat * dscale)     (M elements per channel)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from framework import Graph, Node, OpCode
from framework.attrs import ReduceAttrs, ReshapeAttrs

from ..rewrite import Match, Pat, Rewrite, Rule, rewrite_graph


def _expand(m: Match) -> Rewrite:
    node = m.root
    x, dy, scale = node.inputs[:3]
    t = m.type_of(x)
    rank, channels = len(t.shape), t.shape[1]
    count = t.numel // channels
    axes = (0, *range(2, rank))
    nodes: list[Node] = []
    constants: dict[str, np.ndarray] = {}

    def emit(op: OpCode, inputs: tuple[str, ...], attrs: Any = None,
             out: str | None = None) -> str:
        out = out or m.fresh(f"{node.name}:{op.value}")
        nodes.append(Node(op, inputs, (out,), attrs, out))
        return out

    def scalar(value: float) -> str:
        name = m.fresh(f"{node.name}:const")
        constants[name] = np.asarray(value, dtype=t.dtype)
        return name

    if node.attrs.relu_mask:  # the ReLU backward the op absorbed, as the VJP writes it
        zero = scalar(0.0)
        dy = emit(OpCode.WHERE, (emit(OpCode.GREATER, (node.inputs[3], zero)), dy, zero))
    keep, drop = ReduceAttrs(axes, True), ReduceAttrs(axes, False)
    per_channel = ReshapeAttrs((1, channels) + (1,) * (rank - 2))
    xc = emit(OpCode.SUB, (x, emit(OpCode.REDUCE_MEAN, (x,), keep)))
    var = emit(OpCode.REDUCE_MEAN, (emit(OpCode.MUL, (xc, xc)),), keep)
    inv = emit(OpCode.RECIPROCAL, (emit(OpCode.SQRT, (emit(OpCode.ADD,
                                                             (var, scalar(node.attrs.eps))),)),))
    xhat = emit(OpCode.MUL, (xc, inv))
    dbias = emit(OpCode.REDUCE_SUM, (dy,), drop, node.outputs[2])
    dscale = emit(OpCode.REDUCE_SUM, (emit(OpCode.MUL, (dy, xhat)),), drop, node.outputs[1])
    inner = emit(OpCode.SUB, (emit(OpCode.MUL, (dy, scalar(float(count)))),
                              emit(OpCode.RESHAPE, (dbias,), per_channel)))
    inner = emit(OpCode.SUB, (inner, emit(OpCode.MUL, (xhat, emit(OpCode.RESHAPE, (dscale,),
                                                                  per_channel)))))
    coef = emit(OpCode.MUL, (emit(OpCode.RESHAPE, (scale,), per_channel),
                             emit(OpCode.MUL, (inv, scalar(1.0 / count)))))
    emit(OpCode.MUL, (coef, inner), None, node.outputs[0])
    return Rewrite(nodes=tuple(nodes), constants=constants)


RULES = (Rule("expand_batch_norm_grad", Pat.op(OpCode.BATCH_NORM_GRAD), _expand),)


def expand_batch_norm_grad(graph: Graph) -> Graph:
    """Every BATCH_NORM_GRAD -> reductions and element-wise ops (see the module docstring)."""
    return rewrite_graph(graph, RULES)
