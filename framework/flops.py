"""Analytic cost of ops: FLOPS_RULES[op](input_types, output_types, attrs) -> FLOPs.

Conventions (those of the papers the zoo pins against): a multiply-add is 2 FLOPs, so
conv2d = 2 * N * Cout * Ho * Wo * (Cin / groups) * Kh * Kw and matmul = 2 * M * N * K; biases
of conv/linear/gemm are not counted (ResNet-50's "4.1 GMACs" counts only the multiply-adds);
elementwise ops cost one FLOP per output element; pure data movement costs nothing.
Normalisations count their per-element arithmetic (documented per rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import attrs as A
from .ir import Graph, Node, TensorType
from .ops import BINARY_ELEMENTWISE, COMPARISONS, UNARY_ELEMENTWISE, OpCode

Types = tuple[TensorType, ...]
FlopRule = Callable[[Types, Types, Any], int]


def _per_output(factor: int = 1) -> FlopRule:
    return lambda ins, outs, at: factor * sum(t.numel for t in outs)


def _per_input(factor: int = 1) -> FlopRule:
    return lambda ins, outs, at: factor * ins[0].numel


def _free(ins: Types, outs: Types, at: Any) -> int:
    return 0


def _conv(ins: Types, outs: Types, at: A.Conv2dAttrs) -> int:
    _, cg, kh, kw = ins[1].shape
    return 2 * outs[0].numel * cg * kh * kw


def _conv_transpose(ins: Types, outs: Types, at: A.ConvTranspose2dAttrs) -> int:
    _, cog, kh, kw = ins[1].shape
    return 2 * ins[0].numel * cog * kh * kw  # every input pixel meets Cout/g * Kh * Kw weights


def _conv_grad_weight(ins: Types, outs: Types, at: A.ConvGradWeightAttrs) -> int:
    _, cg, kh, kw = at.weight_shape
    return 2 * ins[1].numel * cg * kh * kw  # the same multiply-adds as the forward conv


def _matmul(ins: Types, outs: Types, at: Any) -> int:
    a = ins[0].shape
    return 2 * outs[0].numel * a[-1]


def _gemm(ins: Types, outs: Types, at: A.GemmAttrs) -> int:
    a = ins[0].shape
    k = a[0] if at.trans_a else a[1]
    return 2 * outs[0].numel * k


def _linear(ins: Types, outs: Types, at: Any) -> int:
    return 2 * outs[0].numel * ins[1].shape[1]


def _batch_norm(ins: Types, outs: Types, at: A.BatchNormAttrs) -> int:
    # inference folds to one multiply-add per element; training also computes mean and
    # variance (about 3 more per element) before normalising
    return (5 if at.training else 2) * ins[0].numel


def _batch_norm_grad(ins: Types, outs: Types, at: A.BatchNormGradAttrs) -> int:
    # four per-channel sums (x, x^2, dy, dy*x: 6 per element), then dx = a*dy + b*x + c (4);
    # a relu mask selects dy by y > 0 (1)
    return (11 if at.relu_mask else 10) * ins[0].numel


def _pool(ins: Types, outs: Types, at: A.PoolAttrs) -> int:
    return outs[0].numel * at.kernel[0] * at.kernel[1]


def _pool_grad(ins: Types, outs: Types, at: A.PoolAttrs) -> int:
    return ins[1].numel * at.kernel[0] * at.kernel[1]


FLOPS_RULES: dict[OpCode, FlopRule] = {
    **{op: _per_output() for op in UNARY_ELEMENTWISE | BINARY_ELEMENTWISE | COMPARISONS},
    OpCode.IDENTITY: _free,
    OpCode.CAST: _free,
    OpCode.WHERE: _per_output(),
    OpCode.MATMUL: _matmul,
    OpCode.GEMM: _gemm,
    OpCode.LINEAR: _linear,
    OpCode.CONV2D: _conv,
    OpCode.CONV_TRANSPOSE2D: _conv_transpose,
    OpCode.CONV2D_GRAD_WEIGHT: _conv_grad_weight,
    OpCode.BATCH_NORM: _batch_norm,
    OpCode.BATCH_NORM_GRAD: _batch_norm_grad,
    OpCode.LAYER_NORM: _per_input(5),  # mean, variance, subtract, scale, shift
    OpCode.SOFTMAX: _per_input(3),  # exp, sum, divide
    OpCode.LOG_SOFTMAX: _per_input(3),  # exp, sum, subtract (one log per row ignored)
    OpCode.MAX_POOL2D: _pool,
    OpCode.AVG_POOL2D: _pool,
    OpCode.GLOBAL_AVG_POOL: _per_input(),
    OpCode.MAX_POOL2D_GRAD: _pool_grad,
    OpCode.AVG_POOL2D_GRAD: _pool_grad,
    OpCode.REDUCE_SUM: _per_input(),
    OpCode.REDUCE_MEAN: _per_input(),
    OpCode.REDUCE_MAX: _per_input(),
    OpCode.ARGMAX: _per_input(),
    **{op: _free for op in (OpCode.RESHAPE, OpCode.FLATTEN, OpCode.TRANSPOSE, OpCode.CONCAT,
                            OpCode.SPLIT, OpCode.SLICE, OpCode.PAD, OpCode.GATHER, OpCode.EXPAND,
                            OpCode.FILL, OpCode.ONE_HOT)},
    OpCode.FUSED: lambda ins, outs, at: graph_flops(at.body),  # the sum of its parts
}
"""FLOPs of every op."""


def node_flops(graph: Graph, node: Node) -> int:
    """FLOPs of one node of ``graph``."""
    ins = tuple(graph.types[i] for i in node.inputs)
    outs = tuple(graph.types[o] for o in node.outputs)
    return FLOPS_RULES[node.op](ins, outs, node.attrs)


def graph_flops(graph: Graph) -> int:
    """Total FLOPs of one evaluation of ``graph`` (multiply-add = 2)."""
    return sum(node_flops(graph, node) for node in graph.nodes)


def graph_params(graph: Graph) -> int:
    """Number of trainable parameters: elements of floating-point constants of rank >= 1.

    Batch-norm running mean and variance are buffers, not parameters (as PyTorch counts them),
    so constants used only in those positions are excluded, as are scalar constants.
    """
    buffers = {node.inputs[i] for node in graph.nodes if node.op is OpCode.BATCH_NORM
               for i in (3, 4)}
    used_elsewhere = {name for node in graph.nodes for i, name in enumerate(node.inputs)
                      if not (node.op is OpCode.BATCH_NORM and i in (3, 4))}
    total = 0
    for name, array in graph.constants.items():
        if array.ndim == 0 or array.dtype.kind != "f":
            continue
        if name in buffers and name not in used_elsewhere:
            continue
        total += math.prod(array.shape)
    return total
