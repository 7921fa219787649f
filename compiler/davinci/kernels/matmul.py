"""Lowering rules for matrix products: MATMUL, GEMM, LINEAR and fused "matmul" groups."""

from __future__ import annotations

import itertools
import math

import numpy as np

from compiler.davinci.context import LoweringContext
from compiler.davinci.kernels.epilogue import (
    Step,
    steps_from_fused,
    ub_bytes_per_element,
    ub_scratch_bytes,
)
from compiler.davinci.kernels.gemm import GemmProblem, Operand, emit_gemm
from compiler.davinci.kernels.tiling import ceil_to, choose_tiling
from compiler.davinci.lower import rule
from compiler.errors import CompileError
from framework import Node, OpCode


def _batch_offsets(shape: tuple[int, ...], batch: tuple[int, ...], item_bytes: int,
                   base: int) -> tuple[int, ...]:
    """Byte offset of each batch item (broadcast over ``batch``) of a tensor whose leading
    dims are ``shape``."""
    shape = (1,) * (len(batch) - len(shape)) + tuple(shape)
    strides = [0] * len(shape)
    step = item_bytes
    for axis in range(len(shape) - 1, -1, -1):
        strides[axis] = 0 if shape[axis] == 1 else step
        step *= shape[axis]
    return tuple(base + sum(i * s for i, s in zip(index, strides, strict=True))
                 for index in itertools.product(*(range(d) for d in batch)))


@rule(OpCode.MATMUL, OpCode.GEMM, OpCode.LINEAR, ("fused", "matmul"))
def lower_matmul(ctx: LoweringContext, node: Node) -> None:
    if node.op is OpCode.FUSED:
        anchor, inputs, steps = steps_from_fused(ctx, node)
    else:
        anchor, inputs, steps = node, list(node.inputs), []
    a_name, b_name = inputs[0], inputs[1]
    a_type, b_type = ctx.type_of(a_name), ctx.type_of(b_name)
    b_matrix = None  # a constant B as a (K, N) array
    b_rows_t = False  # B given as the rows of B^T (a run-time weight of LINEAR, trans_b)
    a_rows_t = False
    if anchor.op is OpCode.LINEAR:
        if ctx.is_constant(b_name):
            b_matrix = ctx.constant(b_name).T
        else:
            b_rows_t = True
        if len(inputs) > 2:
            steps = [Step("bias", OpCode.ADD, value=inputs[2]), *steps]
    elif anchor.op is OpCode.GEMM:
        at = anchor.attrs
        if at.trans_a and ctx.is_constant(a_name):
            raise CompileError(f"{node.name}: gemm with a transposed constant A")
        a_rows_t = at.trans_a
        if ctx.is_constant(b_name):
            b_matrix = ctx.constant(b_name).T if at.trans_b else ctx.constant(b_name)
        else:
            b_rows_t = at.trans_b
        extra = []
        if at.alpha != 1.0:
            extra.append(Step("scalar", OpCode.MUL, scalar=at.alpha))
        if len(inputs) > 2 and at.beta != 0.0:
            if at.beta != 1.0 and not ctx.is_constant(inputs[2]):
                raise CompileError(f"{node.name}: gemm beta != 1 with a non-constant C")
            extra.append(Step("bias", OpCode.ADD, value=inputs[2], scalar=at.beta))
        steps = [*extra, *steps]
    elif ctx.is_constant(b_name) and b_type.rank == 2:
        b_matrix = ctx.constant(b_name)

    out = node.outputs[0]
    out_type = ctx.type_of(out)
    k = a_type.shape[-2] if a_rows_t else a_type.shape[-1]
    n = out_type.shape[-1]
    kp, np_ = ceil_to(k, 16), ceil_to(n, 16)
    if b_matrix is not None or b_rows_t:
        # A's leading dims all fold into M: one product
        m = a_type.shape[-1] if a_rows_t else math.prod(a_type.shape[:-1])
        batch: tuple[int, ...] = ()
        if b_matrix is not None:
            b_place = ctx.place_constant(b_name, b_matrix, "zn", key=f"{b_name}:zn")
            b_op = Operand("zn", (b_place.offset,), np_ // 16)
        else:
            b_place = _rows(ctx, b_name)
            b_op = Operand("rows_t", (b_place.offset,), ceil_to(b_type.shape[-1], 16),
                           n_rows=n)
    else:
        m = a_type.shape[-1] if a_rows_t else a_type.shape[-2]
        batch = tuple(out_type.shape[:-2])
        if b_name in ctx.views:
            b_op = _view_operand(ctx, b_name, 1, batch)
        else:
            b_place = _rows(ctx, b_name)
            b_op = Operand("rows", _batch_offsets(
                b_type.shape[:-2], batch, b_type.shape[-2] * ceil_to(b_type.shape[-1], 16) * 2,
                b_place.offset), ceil_to(b_type.shape[-1], 16))
    if a_rows_t:
        a_place = _rows(ctx, a_name)
        a_op = Operand("rows_t", (a_place.offset,), ceil_to(a_type.shape[-1], 16))
    elif a_name in ctx.views:
        a_op = _view_operand(ctx, a_name, 0, batch)
    else:
        a_place = _rows(ctx, a_name)
        a_item = (m if not batch else a_type.shape[-2]) * kp * 2
        a_op = Operand("rows", _batch_offsets(a_type.shape[:-2] if batch else (), batch, a_item,
                                              a_place.offset), kp)
    c_place = ctx.place(out)
    if c_place.layout != "ndp":
        raise CompileError(f"{node.name}: matmul output {out} must be row-major, "
                           f"is {c_place.layout}")
    c_stride = (out_type.shape[-2] if batch else m) * np_ * 2
    c_op = Operand("rows", _batch_offsets(out_type.shape[:-2] if batch else (), batch, c_stride,
                                          c_place.offset), np_)
    bias_offset, residual = None, None
    for step in steps:
        if step.kind == "bias":
            bias_offset = _bias(ctx, step, n).offset
        elif step.kind == "binary":
            placement = _rows(ctx, step.value)
            residual = Operand("rows", tuple(o - c_place.offset + placement.offset
                                             for o in c_op.offsets), np_)
    relu_first = bool(steps) and steps[0].kind == "unary" and steps[0].op is OpCode.RELU
    ones, bias_zn = separated_bias_images(ctx, steps, n)
    problem = GemmProblem(m, n, k, a_op, b_op, c_op, tuple(steps), bias_offset, residual,
                          relu_first, ones_offset=ones, bias_zn_offset=bias_zn)
    _emit(ctx, node, problem, "matmul", inputs, out, steps)


def _view_operand(ctx: LoweringContext, value: str, operand: int,
                  batch: tuple[int, ...]) -> Operand:
    """An operand read in place through a transpose (see views.py)."""
    from compiler.davinci.views import view_offsets

    view = ctx.views[value]
    source_shape = ctx.type_of(view.source).shape
    placement = _rows(ctx, view.source)
    strides = view.strides(source_shape)
    form = view.form(operand)
    offsets = view_offsets(view, source_shape, placement.offset, batch)
    if form == "rows":
        return Operand("rows", offsets, strides[-2])
    return Operand("rows_t", offsets, strides[-1], n_rows=ctx.type_of(value).shape[-1])


def separated_bias_images(ctx: LoweringContext, steps, n: int) -> tuple[int, int]:
    """GM offsets of the ones block and of the bias as a ZN block (separated chips only)."""
    if ctx.target.organisation != "separated":
        return 0, 0
    bias_steps = [st for st in steps if st.kind == "bias"]
    if not bias_steps:
        return 0, 0
    step = bias_steps[0]
    if not ctx.is_constant(step.value):
        raise CompileError(f"bias {step.value}: a separated chip adds a constant bias only")
    block = np.zeros((16, n), dtype=np.float32)
    block[0] = np.broadcast_to(ctx.constant(step.value).reshape(-1), (n,)) * (step.scalar or 1.0)
    bias = ctx.place_constant(step.value, block, "zn", key=f"{step.value}:bias_zn{n}")
    ones = ctx.place_constant("ones", np.ones((256, 16), dtype=np.float32), "nd",
                              key="ones:256x16")
    return ones.offset, bias.offset


def _rows(ctx: LoweringContext, value: str):
    if ctx.is_constant(value):
        return ctx.place_constant(value, ctx.constant(value), "ndp", key=f"{value}:ndp")
    placement = ctx.place(value)
    if placement.layout != "ndp":
        raise CompileError(f"matmul operand {value} is {placement.layout}, expected rows")
    return placement


def _bias(ctx: LoweringContext, step: Step, n: int):
    if ctx.is_constant(step.value):
        bias = np.broadcast_to(ctx.constant(step.value).reshape(-1), (n,))
        if step.scalar:
            bias = bias * step.scalar
        return ctx.place_constant(step.value, bias, "ndp", key=f"{step.value}:bias{n}")
    placement = ctx.place(step.value)
    if placement.layout != "ndp" or ctx.type_of(step.value).numel != n:
        raise CompileError(f"bias {step.value} must be a row-major vector of {n} elements")
    return placement


def _emit(ctx: LoweringContext, node: Node, problem: GemmProblem, op: str, inputs, out,
          steps) -> None:
    target = ctx.target
    extra_ub = ub_bytes_per_element(list(steps))
    tiling = choose_tiling(target, problem.m, problem.n, problem.k, problem.batch,
                           epilogue_bytes_per_element=extra_ub,
                           bias_in_cube=target.organisation == "separated"
                           and problem.bias_offset is not None)
    tiles = [(b, m0, n0) for b in range(problem.batch)
             for m0 in range(0, problem.m, tiling.bm) for n0 in range(0, problem.n, tiling.bn)]
    builder = ctx.builder(f"{node.name}", tiling.cores)
    scratch = ub_scratch_bytes(list(steps), tiling.bm * tiling.bn)
    coupled = target.organisation == "coupled"
    for core in range(tiling.cores):
        emit_gemm(builder.stream(core), problem, tiling, tiles[core::tiling.cores], coupled,
                  scratch)
    flops = 2 * problem.batch * problem.m * problem.n * problem.k
    min_bytes = sum(ctx.type_of(v).numel * 2 for v in inputs) + ctx.type_of(out).numel * 2
    ctx.launch(builder, node, op, flops, min_bytes, tuple(inputs), (out,), tiling.explain())
