"""Lowering rules for SOFTMAX, LOG_SOFTMAX and LAYER_NORM over trailing axes (row kernels,
compiler.simt.rows) and GATHER along axis 0 of a 2-D table (embedding lookups)."""

from __future__ import annotations

import math

import numpy as np

from compiler.errors import CompileError
from compiler.simt.context import SimtContext
from compiler.simt.elementwise import Operand, emit_elementwise
from compiler.simt.gather import emit_gather
from compiler.simt.kernels.elementwise import logical_strides
from compiler.simt.lower import kernel_name, rule
from compiler.simt.rows import emit_rows
from framework import Node, OpCode, TensorType


def _rows(ctx: SimtContext, node: Node, axis: int) -> tuple[int, int]:
    shape = tuple(ctx.type_of(node.inputs[0]).shape)
    axis %= len(shape)
    for value in (node.inputs[0], node.outputs[0]):
        if ctx.place(value).layout != "nd":
            raise CompileError(f"{node.name}: {node.op.value} of a {ctx.place(value).layout} "
                               "value has no SIMT lowering")
    return math.prod(shape[:axis]), math.prod(shape[axis:])


@rule(OpCode.SOFTMAX, OpCode.LOG_SOFTMAX)
def lower_softmax(ctx: SimtContext, node: Node) -> None:
    shape = tuple(ctx.type_of(node.inputs[0]).shape)
    if node.attrs.axis % len(shape) != len(shape) - 1:
        raise CompileError(f"{node.name}: {node.op.value} over axis {node.attrs.axis} (not the "
                           "last) has no SIMT lowering")
    rows, cols = _rows(ctx, node, -1)
    x, out = ctx.place(node.inputs[0]), ctx.place(node.outputs[0])
    kernel = emit_rows(kernel_name(node), node.op.value, rows, cols, x.offset, out.offset)
    ctx.add_kernel(kernel, node.name, node.op.value, (node.name,), 5 * rows * cols,
                   (node.inputs[0],), (node.outputs[0],))


def _vector(ctx: SimtContext, value: str | None, cols: int, fill: float, key: str) -> int:
    if value is None:
        return ctx.place_constant(key, np.full(cols, fill, np.float16), key=key,
                                  dtype="float16").offset
    if ctx.is_constant(value):
        array = np.broadcast_to(ctx.constant(value), (cols,)) if ctx.type_of(value).numel != \
            cols else ctx.constant(value).reshape(-1)
        return ctx.place_constant(value, array, key=f"{value}:row").offset
    if ctx.type_of(value).numel != cols:
        raise CompileError(f"{value}: layer-norm parameter of {ctx.type_of(value).numel} "
                           f"elements for rows of {cols}")
    return ctx.place(value).offset


@rule(OpCode.LAYER_NORM)
def lower_layer_norm(ctx: SimtContext, node: Node) -> None:
    rows, cols = _rows(ctx, node, node.attrs.axis)
    x, out = ctx.place(node.inputs[0]), ctx.place(node.outputs[0])
    gamma = _vector(ctx, node.inputs[1] if len(node.inputs) > 1 else None, cols, 1.0,
                    f"{node.name}:ones")
    beta = _vector(ctx, node.inputs[2] if len(node.inputs) > 2 else None, cols, 0.0,
                   f"{node.name}:zeros")
    kernel = emit_rows(kernel_name(node), "layer_norm", rows, cols, x.offset, out.offset,
                       gamma, beta, node.attrs.eps)
    ctx.add_kernel(kernel, node.name, "layer_norm", (node.name,), 8 * rows * cols,
                   tuple(node.inputs), (node.outputs[0],))


@rule(OpCode.GATHER)
def lower_gather(ctx: SimtContext, node: Node) -> None:
    table, ids = node.inputs[0], node.inputs[1]
    shape = tuple(ctx.type_of(table).shape)
    if node.attrs.axis % len(shape) != 0 or len(shape) != 2:
        raise CompileError(f"{node.name}: gather along axis {node.attrs.axis} of a "
                           f"{len(shape)}-D tensor has no SIMT lowering (2-D, axis 0 only)")
    ids_place, table_place = ctx.place(ids), ctx.place(table)
    if ids_place.dtype != "int32" or table_place.dtype != "float16":
        raise CompileError(f"{node.name}: gather needs int32 indices into an fp16 table")
    out = ctx.place(node.outputs[0])
    count = ctx.type_of(ids).numel
    kernel = emit_gather(kernel_name(node), count, shape[1], shape[0], table_place.offset,
                         ids_place.offset, out.offset)
    ctx.add_kernel(kernel, node.name, "gather", (node.name,), 0, (ids,), (node.outputs[0],))


@rule(OpCode.REDUCE_SUM, OpCode.REDUCE_MEAN, OpCode.REDUCE_MAX)
def lower_reduce(ctx: SimtContext, node: Node) -> None:
    """Reduced axes last (a transposing copy first when they are not), then a row kernel."""
    src, out = node.inputs[0], node.outputs[0]
    shape = tuple(ctx.type_of(src).shape)
    rank = len(shape)
    axes = sorted({a % rank for a in node.attrs.axes} if node.attrs.axes else range(rank))
    kept = [a for a in range(rank) if a not in axes]
    perm = (*kept, *axes)
    if ctx.place(out).layout != "nd":
        raise CompileError(f"{node.name}: {node.op.value} into a {ctx.place(out).layout} value "
                           "has no SIMT lowering")
    if perm != tuple(range(rank)) or ctx.place(src).layout != "nd":
        moved = f"{node.name}:moved"
        ctx.temporaries[moved] = TensorType(tuple(shape[a] for a in perm), "float32")
        strides = logical_strides(ctx, src)
        place = ctx.place(src)
        dst = ctx.place(moved)
        kernel = emit_elementwise(kernel_name(node, "_move"), tuple(shape[a] for a in perm),
                                  dst.offset, logical_strides(ctx, moved),
                                  (Operand(place.offset, tuple(strides[a] for a in perm),
                                           place.dtype),), ())
        ctx.add_kernel(kernel, node.name, node.op.value, (node.name,), 0, (src,), (moved,))
        src = moved
    rows = math.prod(shape[a] for a in kept)
    cols = math.prod(shape[a] for a in axes)
    kernel = emit_rows(kernel_name(node), node.op.value, rows, cols, ctx.place(src).offset,
                       ctx.place(out).offset)
    ctx.add_kernel(kernel, node.name, node.op.value, (node.name,), rows * cols, (src,), (out,))
