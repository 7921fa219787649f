"""Epilogues of Cube kernels: what happens to an output tile between L0C and GM.

An epilogue is a list of steps read off a fused node's body (or a plain node's bias): a
per-output-channel bias add, a unary activation, a scalar op, or a binary op with a full-size
tensor (a residual). On coupled cores the tile moves L0C -> UB on the vector pipe (fp32 ->
fp16, a leading ReLU for free), the steps run on UB with the vector emitters, and MTE3 stores
the tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from compiler.errors import CompileError
from framework import Node, OpCode

_SCALAR_OPS = {OpCode.ADD, OpCode.MUL, OpCode.SUB, OpCode.DIV, OpCode.MAXIMUM, OpCode.MINIMUM}


@dataclass(frozen=True)
class Step:
    """One epilogue step. ``kind`` is "bias", "unary", "scalar" or "binary"; ``value`` the
    outer graph value it reads (bias or residual), ``scalar`` a constant operand, ``swap``
    whether the chain value is the right operand (``x - prev``)."""

    kind: str
    op: OpCode
    attrs: Any = None
    value: str | None = None
    scalar: float = 0.0
    swap: bool = False


def steps_from_fused(ctx, node: Node) -> tuple[Node, list[str], list[Step]]:
    """(anchor node with outer input names, outer inputs of the anchor, epilogue steps)."""
    body = node.attrs.body
    outer = dict(zip(body.inputs, node.inputs, strict=True))
    anchor = body.nodes[0]
    anchor_inputs = [outer[v] for v in anchor.inputs]
    steps: list[Step] = []
    previous = anchor.outputs[0]
    out_type = body.types[previous]
    channels = out_type.shape[1] if out_type.rank == 4 else out_type.shape[-1]
    for chain_node in body.nodes[1:]:
        externals = [v for v in chain_node.inputs if v != previous]
        if not externals:
            steps.append(Step("unary", chain_node.op, chain_node.attrs))
        else:
            ext = outer[externals[0]]
            swap = chain_node.inputs[0] != previous
            steps.append(_binary_step(ctx, chain_node.op, ext, out_type.shape, channels, swap,
                                      node.name))
        previous = chain_node.outputs[0]
    return anchor, anchor_inputs, steps


def _binary_step(ctx, op: OpCode, value: str, shape: tuple[int, ...], channels: int,
                 swap: bool, where: str) -> Step:
    ext_type = ctx.type_of(value)
    if ext_type.numel == 1 and ctx.is_constant(value) and op in _SCALAR_OPS:
        scalar = float(ctx.constant(value).reshape(-1)[0])
        if swap and op in (OpCode.SUB, OpCode.DIV):
            raise CompileError(f"{where}: epilogue {op.value} with the scalar on the left")
        return Step("scalar", op, scalar=scalar)
    if tuple(ext_type.shape) == tuple(shape):
        return Step("binary", op, value=value, swap=swap)
    if op is OpCode.ADD and ext_type.numel == channels and _is_channel_vector(ext_type.shape,
                                                                               shape):
        return Step("bias", op, value=value)
    raise CompileError(f"{where}: epilogue {op.value} with an operand of shape "
                       f"{ext_type.shape} (output {shape}) has no DaVinci lowering")


def _is_channel_vector(ext: tuple[int, ...], out: tuple[int, ...]) -> bool:
    """A bias broadcast along the channel axis (axis 1 of NCHW, last axis of a matrix)."""
    if len(out) == 4:  # NumPy broadcasts a (C,) vector along W, so only (C, 1, 1) shapes
        return len(ext) >= 3 and ext[-3:] == (out[1], 1, 1) and math.prod(ext) == out[1]
    return ext[-1] == out[-1] and math.prod(ext) == out[-1]


def ub_scratch_bytes(steps: list[Step], count: int) -> int:
    """UB scratch bytes the epilogue's unary steps need besides the tile (binary steps read
    their operand from a tile of its own and need none)."""
    need = 0
    for step in steps:
        if step.kind == "unary":
            from compiler.davinci.kernels.vector_ops import scratch_bytes

            need = max(need, scratch_bytes(step.op, step.attrs, count))
    return need


def ub_bytes_per_element(steps: list[Step]) -> int:
    """UB bytes per output element the epilogue needs besides the tile itself, for the
    tilings' fit checks: the residual tile and the unary scratch (`ub_scratch_bytes`, here
    for whole 32 B blocks)."""
    residual = 2 if any(step.kind == "binary" for step in steps) else 0
    return residual + -(-ub_scratch_bytes(steps, 16) // 16)
