"""Lowering rules for element-wise ops, fused element-wise chains and data movement
(transpose, slice, reshape/flatten/expand/identity copies) onto the strided element-wise
generator (compiler.simt.elementwise)."""

from __future__ import annotations

import math
import re

import numpy as np

from compiler.errors import CompileError
from compiler.simt.context import SimtContext
from compiler.simt.elementwise import BINARY, UNARY, Operand, Ref, Step, emit_elementwise
from compiler.simt.lower import kernel_name, rule
from framework import Node, OpCode
from framework.ops import BINARY_ELEMENTWISE, UNARY_ELEMENTWISE

_UNARY_NAMES = {op: op.value for op in UNARY_ELEMENTWISE if op.value in UNARY}
_BINARY_NAMES = {op: op.value for op in BINARY_ELEMENTWISE if op.value in BINARY}


def logical_strides(ctx: SimtContext, value: str) -> tuple[int, ...]:
    """Element strides of ``value``'s logical dims in its stored layout."""
    place = ctx.place(value)
    shape = tuple(ctx.type_of(value).shape)
    if place.layout == "nhwc":
        n, c, h, w = shape
        return (h * w * c, 1, w * c, c)
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


def broadcast_strides(ctx: SimtContext, value: str, out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides reading ``value`` broadcast (NumPy rules) to ``out_shape``."""
    shape = tuple(ctx.type_of(value).shape)
    strides = logical_strides(ctx, value)
    lead = len(out_shape) - len(shape)
    out = [0] * lead
    for dim, stride in zip(shape, strides, strict=True):
        out.append(0 if dim == 1 else stride)
    return tuple(out)


def _operand(ctx: SimtContext, value: str, out_shape: tuple[int, ...]) -> Operand:
    place = ctx.place(value)
    if place.dtype not in ("float16", "int32"):
        raise CompileError(f"{value}: dtype {place.dtype} has no SIMT element-wise lowering")
    return Operand(place.offset, broadcast_strides(ctx, value, out_shape), place.dtype)


def _scalar(ctx: SimtContext, value: str) -> float | None:
    if ctx.is_constant(value) and ctx.type_of(value).numel == 1:
        return float(ctx.constant(value).reshape(-1)[0])
    return None


def _chain_steps(node: Node, refs: list[Ref], first: int, where: str) -> list[Step]:
    """The fp32 steps of one chain node (``first``: index of its first step)."""
    if node.op in _UNARY_NAMES:
        param = float(node.attrs.alpha) if node.op is OpCode.LEAKY_RELU else 0.0
        return [Step(_UNARY_NAMES[node.op], tuple(refs), param)]
    if node.op in _BINARY_NAMES:
        if refs[1][0] == "imm" and refs[0][0] == "imm":
            raise CompileError(f"{where}: element-wise op on two constants")
        return [Step(_BINARY_NAMES[node.op], tuple(refs))]
    if node.op is OpCode.WHERE:
        return [Step("where", tuple(refs))]
    if node.op is OpCode.CLIP:  # max with the lower bound, then min with the upper
        steps, ref = [], refs[0]
        for op, bound in (("maximum", node.attrs.min), ("minimum", node.attrs.max)):
            if bound is not None:
                steps.append(Step(op, (ref, ("imm", float(bound)))))
                ref = ("tmp", first + len(steps) - 1)
        return steps or [Step("identity", (ref,))]
    raise CompileError(f"{where}: element-wise op {node.op.value} has no SIMT lowering")


def lower_chain(ctx: SimtContext, node_name: str, nodes: list[Node], outer: dict[str, str],
                out: str, origin: tuple[str, ...]) -> None:
    """One kernel for the chain ``nodes`` (inner names mapped to outer values by ``outer``)."""
    out_shape = tuple(ctx.type_of(out).shape)
    operands: list[str] = []
    refs: dict[str, Ref] = {}
    steps: list[Step] = []
    for n in nodes:
        args: list[Ref] = []
        for v in n.inputs:
            if v in refs:
                args.append(refs[v])
                continue
            value = outer.get(v, v)
            scalar = _scalar(ctx, value)
            if scalar is not None:
                args.append(("imm", scalar))
                continue
            if value not in operands:
                operands.append(value)
            args.append(("in", operands.index(value)))
        steps.extend(_chain_steps(n, args, len(steps), node_name))
        refs[n.outputs[0]] = ("tmp", len(steps) - 1)
    ops = tuple(_operand(ctx, v, out_shape) for v in operands)
    out_place = ctx.place(out)
    kernel = emit_elementwise(kernel_name_for(node_name), out_shape, out_place.offset,
                              logical_strides(ctx, out), ops, tuple(steps))
    flops = math.prod(out_shape) * len(steps)
    ctx.add_kernel(kernel, node_name, nodes[0].op.value if len(nodes) == 1 else "elementwise",
                   origin, flops, tuple(operands), (out,))


def kernel_name_for(name: str) -> str:
    """A kernel (assembler) name from a node name."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return clean if re.match(r"[A-Za-z_]", clean) else f"k_{clean}"


@rule(*UNARY_ELEMENTWISE - {OpCode.CAST}, *BINARY_ELEMENTWISE, OpCode.WHERE)
def lower_elementwise(ctx: SimtContext, node: Node) -> None:
    lower_chain(ctx, node.name, [node], {}, node.outputs[0], (node.name,))


@rule(("fused", "elementwise"))
def lower_fused_elementwise(ctx: SimtContext, node: Node) -> None:
    body = node.attrs.body
    outer = dict(zip(body.inputs, node.inputs, strict=True))
    lower_chain(ctx, node.name, list(body.nodes), outer, node.outputs[0],
                tuple(n.name for n in body.nodes))


def copy_kernel(ctx: SimtContext, node: Node, src: Operand, shape: tuple[int, ...],
                out: str, out_strides: tuple[int, ...] | None = None) -> None:
    """out[i] = src[i] over ``shape`` (a gather through ``src``'s strides)."""
    out_place = ctx.place(out)
    strides = out_strides if out_strides is not None else logical_strides(ctx, out)
    kernel = emit_elementwise(kernel_name(node), shape, out_place.offset, strides, (src,), ())
    ctx.add_kernel(kernel, node.name, node.op.value, (node.name,), 0, (node.inputs[0],), (out,))


@rule(OpCode.TRANSPOSE)
def lower_transpose(ctx: SimtContext, node: Node) -> None:
    src = node.inputs[0]
    strides = logical_strides(ctx, src)
    perm = node.attrs.perm
    out_shape = tuple(ctx.type_of(node.outputs[0]).shape)
    place = ctx.place(src)
    copy_kernel(ctx, node, Operand(place.offset, tuple(strides[p] for p in perm), place.dtype),
                out_shape, node.outputs[0])


@rule(OpCode.SLICE)
def lower_slice(ctx: SimtContext, node: Node) -> None:
    src = node.inputs[0]
    in_shape = tuple(ctx.type_of(src).shape)
    strides = list(logical_strides(ctx, src))
    place = ctx.place(src)
    base = 0
    at = node.attrs
    for start, end, axis, step in zip(at.starts, at.ends, at.axes, at.steps, strict=True):
        axis %= len(in_shape)
        begin = slice(start, end, step).indices(in_shape[axis])[0]
        base += begin * strides[axis]
        strides[axis] *= step
    size = np.dtype(place.dtype).itemsize
    out_shape = tuple(ctx.type_of(node.outputs[0]).shape)
    copy_kernel(ctx, node, Operand(place.offset + base * size, tuple(strides), place.dtype),
                out_shape, node.outputs[0])


@rule(OpCode.RESHAPE, OpCode.FLATTEN)
def lower_reshape(ctx: SimtContext, node: Node) -> None:
    src, out = node.inputs[0], node.outputs[0]
    if ctx.place(src).layout == "nd" and ctx.layout_of(out) == "nd" and \
            not ctx.is_constant(src):
        ctx.alias(out, src)
        return
    # a layout change: walk the source's logical order, write the output's flat order
    in_shape = tuple(ctx.type_of(src).shape)
    place = ctx.place(src)
    flat = [0] * len(in_shape)
    step = 1
    for axis in range(len(in_shape) - 1, -1, -1):
        flat[axis] = step
        step *= in_shape[axis]
    if ctx.layout_of(out) != "nd":
        raise CompileError(f"{node.name}: reshape into a {ctx.layout_of(out)} value has no "
                           "SIMT lowering")
    copy_kernel(ctx, node, Operand(place.offset, logical_strides(ctx, src), place.dtype),
                in_shape, out, tuple(flat))


@rule(OpCode.EXPAND)
def lower_expand(ctx: SimtContext, node: Node) -> None:
    src, out = node.inputs[0], node.outputs[0]
    out_shape = tuple(ctx.type_of(out).shape)
    place = ctx.place(src)
    copy_kernel(ctx, node, Operand(place.offset, broadcast_strides(ctx, src, out_shape),
                                   place.dtype), out_shape, out)


@rule(OpCode.CONCAT)
def lower_concat(ctx: SimtContext, node: Node) -> None:
    """One copy kernel per input into its slice of the output (any layout)."""
    out = node.outputs[0]
    out_place = ctx.place(out)
    out_strides = logical_strides(ctx, out)
    axis = node.attrs.axis % ctx.type_of(out).rank
    start = 0
    for i, value in enumerate(node.inputs):
        shape = tuple(ctx.type_of(value).shape)
        place = ctx.place(value)
        offset = out_place.offset + start * out_strides[axis] * 2
        kernel = emit_elementwise(kernel_name(node, f"_{i}"), shape, offset, out_strides,
                                  (Operand(place.offset, logical_strides(ctx, value),
                                           place.dtype),), ())
        ctx.add_kernel(kernel, node.name, "concat", (node.name,), 0, (value,), (out,))
        start += shape[axis]
