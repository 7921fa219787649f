"""Lowering rules for matrix products: MATMUL, GEMM, LINEAR and fused "matmul" groups, onto
the tensor-core GEMM generator (compiler.simt.gemm) with a fused bias/ReLU/GELU epilogue."""

from __future__ import annotations

import math

from compiler.davinci.kernels.epilogue import Step, steps_from_fused
from compiler.errors import CompileError
from compiler.simt.context import SimtContext
from compiler.simt.gemm import GemmSpec, emit_gemm
from compiler.simt.gemm_tiling import choose_tile
from compiler.simt.lower import kernel_name, rule
from framework import Node, OpCode

_ACTIVATIONS = {OpCode.RELU: "relu", OpCode.GELU: "gelu"}


def _epilogue(node: Node, steps: list[Step]) -> tuple[str | None, str]:
    """(bias value, activation) of the supported epilogues: [bias] [relu | gelu]."""
    bias, activation = None, "none"
    rest = list(steps)
    if rest and rest[0].kind == "bias" and rest[0].scalar in (0.0, 1.0):
        bias = rest.pop(0).value
    if rest and rest[0].kind == "unary" and rest[0].op in _ACTIVATIONS:
        activation = _ACTIVATIONS[rest.pop(0).op]
    if rest:
        raise CompileError(f"{node.name}: GPU GEMM epilogue step {rest[0].kind} "
                           f"{rest[0].op.value} has no SIMT lowering")
    return bias, activation


def _batch_stride(shape: tuple[int, ...], batch: tuple[int, ...], where: str) -> int:
    """Elements between batch items of an operand with ``shape`` broadcast over ``batch``
    (0 when it has no batch dims); partial broadcasting is refused."""
    lead = tuple(shape[:-2])
    if not lead or math.prod(lead) == 1:
        return 0
    if lead != batch[-len(lead):] or len(lead) != len(batch):
        raise CompileError(f"{where}: batched matmul broadcasting {shape} over {batch} "
                           "has no SIMT lowering")
    return shape[-2] * shape[-1]


@rule(OpCode.MATMUL, OpCode.GEMM, OpCode.LINEAR, ("fused", "matmul"))
def lower_matmul(ctx: SimtContext, node: Node) -> None:
    if node.op is OpCode.FUSED:
        anchor, inputs, steps = steps_from_fused(ctx, node)
    else:
        anchor, inputs, steps = node, list(node.inputs), []
    a_name, b_name = inputs[0], inputs[1]
    a_type, b_type = ctx.type_of(a_name), ctx.type_of(b_name)
    out = node.outputs[0]
    out_type = ctx.type_of(out)
    trans_b = anchor.op is OpCode.LINEAR
    if anchor.op is OpCode.LINEAR and len(inputs) > 2:
        steps = [Step("bias", OpCode.ADD, value=inputs[2]), *steps]
    if anchor.op is OpCode.GEMM:
        at = anchor.attrs
        if at.trans_a or at.alpha != 1.0 or (len(inputs) > 2 and at.beta not in (0.0, 1.0)):
            raise CompileError(f"{node.name}: gemm with trans_a, alpha != 1 or beta != 1 has "
                               "no SIMT lowering")
        trans_b = at.trans_b
        if len(inputs) > 2 and at.beta == 1.0:
            steps = [Step("bias", OpCode.ADD, value=inputs[2]), *steps]
    bias, activation = _epilogue(node, steps)
    if bias is not None and ctx.type_of(bias).numel != out_type.shape[-1]:
        raise CompileError(f"{node.name}: GEMM bias of shape {ctx.type_of(bias).shape} is not "
                           "per output column")
    k = a_type.shape[-1]
    n = out_type.shape[-1]
    b_rank2 = b_type.rank == 2
    if b_rank2:  # every leading dim of A folds into M: one product
        m, batch, batch_dims = math.prod(a_type.shape[:-1]), 1, ()
    else:
        m, batch_dims = a_type.shape[-2], tuple(out_type.shape[:-2])
        batch = math.prod(batch_dims)
    if ctx.is_constant(b_name) and b_rank2:
        matrix = ctx.constant(b_name)
        image = matrix if trans_b else matrix.T  # rows of B^T: N x K
        b_place = ctx.place_constant(b_name, image, key=f"{b_name}:nk")
        layout = "nk"
    else:
        b_place = ctx.place(b_name)
        layout = "nk" if trans_b else "kn"
    a_place, c_place = ctx.place(a_name), ctx.place(out)
    for value, place in ((a_name, a_place), (out, c_place)):
        if place.layout != "nd":
            raise CompileError(f"{node.name}: matmul operand {value} is {place.layout}, "
                               "not row-major")
    spec = GemmSpec(
        kernel_name(node), m, n, k, batch, layout,
        a_batch_stride=0 if b_rank2 else _batch_stride(a_type.shape, batch_dims, node.name),
        b_batch_stride=0 if b_rank2 else _batch_stride(b_type.shape, batch_dims, node.name),
        c_batch_stride=0 if b_rank2 else m * n, bias=bias is not None, activation=activation)
    choice = choose_tile(ctx.target, spec)
    bias_place = None
    if bias is not None:
        bias_place = ctx.place_constant(bias, ctx.constant(bias).reshape(-1)) \
            if ctx.is_constant(bias) else ctx.place(bias)
    kernel = emit_gemm(spec, choice.tile, (a_place.offset, b_place.offset, c_place.offset,
                                           bias_place.offset if bias_place else 0),
                       ctx.target.max_regs_per_thread)
    reads = (a_name, b_place.name) + ((bias_place.name,) if bias_place else ())
    origin = tuple(n_.name for n_ in node.attrs.body.nodes) if node.op is OpCode.FUSED \
        else (node.name,)
    ctx.add_kernel(kernel, node.name, anchor.op.value, origin, 2 * batch * m * n * k, reads,
                   (out,), choice.describe())
