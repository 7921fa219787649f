"""Batch-norm folding: an inference batch norm after a conv2d, linear, gemm or matmul(+bias)
with constant weights is folded into those weights and a bias.

Inference BN is per channel ``y = x * inv + shift`` with ``inv = scale / sqrt(var + eps)`` and
``shift = bias - mean * inv`` (framework/evaluate_nn.py), so for ``x = A @ W + b`` (or a conv)
``y = A @ (W * inv) + (b * inv + shift)``: the weights are scaled per output channel and the
bias absorbs the shift (Jacob et al. 2018, "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference", section 3.2). Arithmetic is done in float64 and
stored in the weights' dtype.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from framework import Graph, Node, OpCode
from framework.attrs import GemmAttrs

from ..rewrite import Match, Pat, Rewrite, Rule, rewrite_graph


def _inference(node: Node) -> bool:
    return not node.attrs.training


def _bn_pattern(anchor: Pat) -> Pat:
    """BN(anchor, scale, bias, mean, var) with constant statistics, inference mode."""
    stats = [Pat.constant(n) for n in ("scale", "shift", "mean", "var")]
    return Pat.op(OpCode.BATCH_NORM, anchor, *stats, name="bn", where=_inference)


def _coefficients(m: Match) -> tuple[np.ndarray, np.ndarray]:
    """(inv, shift) as float64 vectors over the channels."""
    eps = m.nodes["bn"].attrs.eps
    scale, beta, mean, var = (m.array(m.values[n]).astype(np.float64)
                              for n in ("scale", "shift", "mean", "var"))
    inv = scale / np.sqrt(var + eps)
    return inv, beta - mean * inv


def _const(m: Match, prefix: str, value: np.ndarray, like: str) -> tuple[str, np.ndarray]:
    return m.fresh(prefix), value.astype(m.type_of(like).dtype)


def _old_bias(m: Match, node: Node, index: int, channels: int) -> np.ndarray | None:
    """The anchor's constant bias as float64 (channels,), zeros if absent, None if not constant."""
    if len(node.inputs) <= index:
        return np.zeros(channels)
    if not m.is_constant(node.inputs[index]):
        return None
    return np.broadcast_to(m.array(node.inputs[index]).astype(np.float64), (channels,))


def _fold_weighted(m: Match) -> Rewrite | None:
    """conv2d / linear: scale weight rows (output channels), rewrite the bias."""
    bn, node = m.nodes["bn"], m.nodes["anchor"]
    if not m.is_constant(node.inputs[1]) or len(m.type_of(bn.inputs[0]).shape) not in (2, 4):
        return None  # a linear over (B, T, F) would normalise over T, not its features
    w = m.array(node.inputs[1]).astype(np.float64)
    inv, shift = _coefficients(m)
    bias = _old_bias(m, node, 2, w.shape[0])
    if bias is None:
        return None
    w_name, w_new = _const(m, "bn_weight", w * inv.reshape((-1,) + (1,) * (w.ndim - 1)),
                           node.inputs[1])
    b_name, b_new = _const(m, "bn_bias", bias * inv + shift, node.inputs[1])
    folded = node.replace(inputs=(node.inputs[0], w_name, b_name), outputs=bn.outputs,
                          name=bn.name)
    return Rewrite(nodes=(folded,), constants={w_name: w_new, b_name: b_new})


def _fold_gemm(m: Match) -> Rewrite | None:
    """gemm: scale the columns of op(B), fold beta * C into a new C (beta becomes 1)."""
    bn, node = m.nodes["bn"], m.nodes["anchor"]
    at: GemmAttrs = node.attrs
    if not m.is_constant(node.inputs[1]):
        return None
    b = m.array(node.inputs[1]).astype(np.float64)
    inv, shift = _coefficients(m)
    c = np.zeros(len(inv)) if len(node.inputs) < 3 else None
    if c is None:
        if not m.is_constant(node.inputs[2]):
            return None
        c = at.beta * m.array(node.inputs[2]).astype(np.float64)
    columns = inv[:, None] if at.trans_b else inv  # op(B)'s columns are the channels
    b_name, b_new = _const(m, "bn_weight", b * columns, node.inputs[1])
    c_name, c_new = _const(m, "bn_bias", c * inv + shift, node.inputs[1])
    folded = node.replace(inputs=(node.inputs[0], b_name, c_name), outputs=bn.outputs,
                          name=bn.name, attrs=dataclasses.replace(at, beta=1.0))
    return Rewrite(nodes=(folded,), constants={b_name: b_new, c_name: c_new})


def _fold_matmul(m: Match) -> Rewrite | None:
    """matmul(x, W) [+ bias] with 2-D W and 2-D result: scale W's columns, add one bias."""
    bn, node = m.nodes["bn"], m.nodes["anchor"]
    if not m.is_constant(node.inputs[1]) or m.type_of(node.inputs[1]).rank != 2 \
            or m.type_of(bn.inputs[0]).rank != 2:
        return None
    w = m.array(node.inputs[1]).astype(np.float64)
    inv, shift = _coefficients(m)
    bias = np.zeros(len(inv))
    if "add" in m.nodes:
        other = next(v for v in m.nodes["add"].inputs if v != node.outputs[0])
        if not m.is_constant(other) or m.type_of(other).shape not in ((), (1,), (len(inv),),
                                                                     (1, len(inv))):
            return None
        bias = np.broadcast_to(m.array(other).astype(np.float64), (len(inv),))
    w_name, w_new = _const(m, "bn_weight", w * inv, node.inputs[1])
    b_name, b_new = _const(m, "bn_bias", bias * inv + shift, node.inputs[1])
    product = m.fresh("bn_matmul")
    scaled = node.replace(inputs=(node.inputs[0], w_name), outputs=(product,), name=product)
    add = Node(OpCode.ADD, (product, b_name), bn.outputs, name=bn.name)
    return Rewrite(nodes=(scaled, add), constants={w_name: w_new, b_name: b_new})


def _anchor(op: OpCode) -> Pat:
    return Pat.op(op, name="anchor", single_use=True)


RULES = (
    Rule("bn_after_conv2d", _bn_pattern(_anchor(OpCode.CONV2D)), _fold_weighted),
    Rule("bn_after_linear", _bn_pattern(_anchor(OpCode.LINEAR)), _fold_weighted),
    Rule("bn_after_gemm", _bn_pattern(_anchor(OpCode.GEMM)), _fold_gemm),
    Rule("bn_after_matmul_bias", _bn_pattern(
        Pat.op(OpCode.ADD, _anchor(OpCode.MATMUL), Pat.any(), name="add", single_use=True,
               commutative=True)), _fold_matmul),
    Rule("bn_after_matmul", _bn_pattern(_anchor(OpCode.MATMUL)), _fold_matmul),
)
"""One rule per anchor shape."""


def fold_batch_norm(graph: Graph) -> Graph:
    """Fold every inference batch norm whose input comes only from a conv2d, linear, gemm or
    matmul (+ constant bias) with constant weights and statistics; other batch norms (training
    mode, non-constant statistics or weights, shared anchor results) are left as they are."""
    return rewrite_graph(graph, RULES)
