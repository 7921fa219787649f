"""Lowering rules for matrix products: MATMUL, GEMM, LINEAR and fused "matmul" groups, onto
the tensor-core GEMM generator (compiler.simt.gemm) with a fused bias/ReLU/GELU epilogue."""

from __future__ import annotations

import math

import numpy as np

from compiler.davinci.kernels.epilogue import Step, steps_from_fused
from compiler.errors import CompileError
from compiler.executable import TensorPlacement
from compiler.simt.context import SimtContext
from compiler.simt.elementwise import Operand, emit_elementwise
from compiler.simt.elementwise import Step as ChainStep
from compiler.simt.gemm import GemmSpec, emit_gemm
from compiler.simt.gemm_tiling import TileChoice, choose_tile
from compiler.simt.kernels.elementwise import logical_strides, lower_chain
from compiler.simt.lower import kernel_name, rule
from framework import Node, OpCode, TensorType

_ACTIVATIONS = {OpCode.RELU: "relu", OpCode.GELU: "gelu"}


def gemm_epilogue(steps: list[Step]) -> tuple[str | None, str] | None:
    """(bias value, activation) when the epilogue is [bias] [relu | gelu | relu6], else None
    (the chain then runs as its own element-wise kernel); the convolution shares it."""
    bias, activation = None, "none"
    rest = list(steps)
    if rest and rest[0].kind == "bias" and rest[0].scalar in (0.0, 1.0):
        bias = rest.pop(0).value
    if rest and rest[0].kind == "unary" and rest[0].op in _ACTIVATIONS:
        activation = _ACTIVATIONS[rest.pop(0).op]
    elif rest and rest[0].kind == "unary" and rest[0].op is OpCode.CLIP and \
            (rest[0].attrs.min, rest[0].attrs.max) == (0.0, 6.0):
        activation = "relu6"
        rest.pop(0)
    return None if rest else (bias, activation)


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
def lower_matmul(ctx: SimtContext, node: Node, out_value: str | None = None) -> None:
    """One GEMM kernel (``out_value``: write there instead of the node's output)."""
    if node.op is OpCode.FUSED:
        anchor, inputs, steps = steps_from_fused(ctx, node)
        steps = steps if out_value is None else []
    else:
        anchor, inputs, steps = node, list(node.inputs), []
    a_name, b_name = inputs[0], inputs[1]
    a_type, b_type = ctx.type_of(a_name), ctx.type_of(b_name)
    out = out_value or node.outputs[0]
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
    fused = gemm_epilogue(steps)
    if fused is None:  # GEMM into a temporary, then the body's chain as element-wise kernel
        if anchor.op is not OpCode.MATMUL and anchor.op is not OpCode.LINEAR:
            raise CompileError(f"{node.name}: GEMM epilogue has no SIMT lowering")
        _split(ctx, node, anchor, inputs)
        return
    bias, activation = fused
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
    a_stride = 0 if b_rank2 else _batch_stride(a_type.shape, batch_dims, node.name)
    b_stride = 0 if b_rank2 else _batch_stride(b_type.shape, batch_dims, node.name)
    kp = -(-k // 16) * 16
    if kp != k or (layout == "kn" and n % 8):
        # zero-padded copies: K up to a multiple of 16 (mma k16), B as rows of B^T
        a_place = _padded(ctx, node, "a", a_name, kp, transpose=False)
        a_stride = a_stride and a_stride // k * kp
        if layout == "nk" and ctx.is_constant(b_name) and b_rank2:
            image = ctx.constants[b_place.name]
            b_place = ctx.place_constant(b_name, np.pad(image, ((0, 0), (0, kp - k))),
                                         key=f"{b_name}:nk{kp}")
        else:
            b_place = _padded(ctx, node, "b", b_name, kp, transpose=layout == "kn")
            b_stride = b_stride and n * kp
            layout = "nk"
        k = kp
    spec = GemmSpec(
        kernel_name(node), m, n, k, batch, layout, a_batch_stride=a_stride,
        b_batch_stride=b_stride, c_batch_stride=0 if b_rank2 else m * n,
        bias=bias is not None, activation=activation)
    choice = choose_tile(ctx.target, spec)
    splits = _splits(ctx, spec, choice)
    if splits > 1:
        _split_k(ctx, node, spec, splits, (a_place, b_place, c_place), bias, out)
        return
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


def _split(ctx: SimtContext, node: Node, anchor: Node, inputs: list[str]) -> None:
    """The fused group as a plain GEMM into a temporary plus an element-wise chain kernel."""
    body = node.attrs.body
    temp = ctx.temporary(f"{node.name}:gemm", node.outputs[0])
    lower_matmul(ctx, node, out_value=temp)
    outer = dict(zip(body.inputs, node.inputs, strict=True))
    outer[anchor.outputs[0]] = temp
    lower_chain(ctx, f"{node.name}_epilogue", list(body.nodes[1:]), outer, node.outputs[0],
                tuple(n.name for n in body.nodes[1:]))


def _padded(ctx: SimtContext, node: Node, which: str, value: str, kp: int,
            transpose: bool) -> TensorPlacement:
    """A fresh (zero) buffer holding ``value`` with its K axis padded to ``kp``: the last
    axis, or with ``transpose`` the rows of a K x N operand turned into N x kp."""
    shape = tuple(ctx.type_of(value).shape)
    strides = list(logical_strides(ctx, value))
    if transpose:
        shape = (*shape[:-2], shape[-1], shape[-2])
        strides[-2], strides[-1] = strides[-1], strides[-2]
    padded = (*shape[:-1], kp)
    name = f"{node.name}:{which}{kp}"
    ctx.temporaries[name] = TensorType(padded, ctx.type_of(value).dtype)
    place = ctx.place(name)
    out_strides = [1] * len(padded)
    for axis in range(len(padded) - 2, -1, -1):
        out_strides[axis] = out_strides[axis + 1] * padded[axis + 1]
    src = ctx.place(value)
    kernel = emit_elementwise(kernel_name(node, f"_pad_{which}"), shape, place.offset,
                              tuple(out_strides), (Operand(src.offset, tuple(strides),
                                                           src.dtype),), ())
    ctx.add_kernel(kernel, node.name, "pad", (node.name,), 0, (value,), (name,))
    return place


def _splits(ctx: SimtContext, spec: GemmSpec, choice: TileChoice) -> int:
    """K splits for a small grid with a long K walk (GEMV-like products): each split a
    multiple of 32 and at least 256 long, chosen by the cost model, and only when the
    estimated saving exceeds the extra (reduction) kernel's launch overhead."""
    if spec.batch > 1 or spec.b_layout != "nk":
        return 1
    best, best_cycles = 1, choice.cycles - ctx.target.launch_overhead_cycles
    for s in range(2, 9):
        if spec.k % (32 * s) or spec.k // s < 256:
            continue
        part = GemmSpec(spec.name, spec.m, spec.n, spec.k // s, s, "nk", spec.k // s,
                        spec.k // s, spec.m * spec.n, row_stride=spec.k)
        cycles = choose_tile(ctx.target, part).cycles
        if cycles < best_cycles:
            best, best_cycles = s, cycles
    return best


def _split_k(ctx: SimtContext, node: Node, spec: GemmSpec, splits: int,
             places: tuple[TensorPlacement, ...], bias: str | None, out: str) -> None:
    """``splits`` partial GEMMs over K slices (launched as a batch whose A and B^T batch
    strides step along K) into fp16 partials, then one element-wise kernel sums them with
    the bias and the activation (split-K, as cuBLAS does for skinny products)."""
    a_place, b_place, c_place = places
    ks = spec.k // splits
    partial = f"{node.name}:splitk"
    ctx.temporaries[partial] = TensorType((splits, spec.m, spec.n), "float32")
    p_place = ctx.place(partial)
    part = GemmSpec(f"{spec.name}_splitk", spec.m, spec.n, ks, splits, "nk", a_batch_stride=ks,
                    b_batch_stride=ks, c_batch_stride=spec.m * spec.n, row_stride=spec.k)
    choice = choose_tile(ctx.target, part)
    kernel = emit_gemm(part, choice.tile, (a_place.offset, b_place.offset, p_place.offset, 0),
                       ctx.target.max_regs_per_thread)
    ctx.add_kernel(kernel, node.name, "matmul", (node.name,), 2 * spec.m * spec.n * spec.k,
                   (a_place.name, b_place.name), (partial,),
                   f"split-K x{splits}; {choice.describe()}")
    mn = spec.m * spec.n
    operands = [Operand(p_place.offset + i * mn * 2, (spec.n, 1)) for i in range(splits)]
    steps = [ChainStep("add", (("in", 0), ("in", 1)))]
    for i in range(2, splits):
        steps.append(ChainStep("add", (("tmp", len(steps) - 1), ("in", i))))
    if bias is not None:
        bplace = ctx.place_constant(bias, ctx.constant(bias).reshape(-1)) \
            if ctx.is_constant(bias) else ctx.place(bias)
        operands.append(Operand(bplace.offset, (0, 1)))
        steps.append(ChainStep("add", (("tmp", len(steps) - 1), ("in", splits))))
    if spec.activation != "none":
        name = "relu" if spec.activation == "relu6" else spec.activation
        steps.append(ChainStep(name, (("tmp", len(steps) - 1),)))
        if spec.activation == "relu6":
            steps.append(ChainStep("minimum", (("tmp", len(steps) - 1), ("imm", 6.0))))
    kernel = emit_elementwise(kernel_name(node, "_reduce"), (spec.m, spec.n), c_place.offset,
                              (spec.n, 1), tuple(operands), tuple(steps))
    ctx.add_kernel(kernel, node.name, "matmul", (node.name,), mn * len(steps), (partial,),
                   (out,))
